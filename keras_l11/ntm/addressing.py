"""Neural Turing Machine addressing (Graves, Wayne, Danihelka 2014, section 3.3).

All functions work on a batch of heads at once: `[batch, heads, ...]`, so that
every read and write head of an NTM is addressed by one set of tensor ops per
time step instead of a Python loop over heads.

Numerical safety (the reason the formulas differ slightly from the paper's
text): the cosine similarity puts an epsilon *inside* the square roots, so a
zero key or an all-zero memory row gives similarity 0 instead of NaN (its
gradient is finite too); sharpening is computed in log space, as a softmax
of `gamma * log(w + eps)`, so `w ** gamma` never underflows to an all-zero
row that would divide 0 by 0.
"""

from keras import ops

EPSILON = 1e-6
# Inside the cosine's square roots the epsilon must stay far below the squared
# norm of a row of the constant 1e-6 initial memory (M x 1e-12 = 2e-11 for M = 20):
# a larger one (1e-6 gives norms of 1e-3) makes every blank row look like a zero
# vector, so a head can no longer find "the next blank row" by content, which
# the copy task needs to generalise to long sequences.
COSINE_EPSILON = 1e-12


def cosine_similarity(keys, memory, epsilon=COSINE_EPSILON):
    """Eq. (6): K[u, v] = u.v / (|u| |v|), for every head key and memory row.

    Args:
        keys: `[batch, heads, M]`.
        memory: `[batch, N, M]`.

    Returns:
        `[batch, heads, N]` similarities in [-1, 1].
    """
    dot = ops.einsum("bhm,bnm->bhn", keys, memory)
    key_norm = ops.sqrt(ops.sum(ops.square(keys), axis=-1) + epsilon)  # [b, h]
    row_norm = ops.sqrt(ops.sum(ops.square(memory), axis=-1) + epsilon)  # [b, n]
    return dot / (key_norm[:, :, None] * row_norm[:, None, :])


def content_weighting(keys, strengths, memory, epsilon=COSINE_EPSILON):
    """Eq. (5): w_c = softmax(beta * K(k, M[i])). `strengths` is `[batch, heads, 1]`."""
    return ops.softmax(strengths * cosine_similarity(keys, memory, epsilon), axis=-1)


def circular_shift(weights, shifts):
    """Eq. (8): w~(i) = sum_j w(j) s(i - j) (indices modulo N).

    `shifts` is `[batch, heads, 2S+1]`, a distribution over the shifts -S..+S;
    each shift is a roll of the weighting, so the cost is 2S+1 rolls, not an
    N x N circulant matrix.
    """
    num_shifts = shifts.shape[-1]
    shift_range = (num_shifts - 1) // 2
    shifted = [shifts[:, :, k : k + 1] * ops.roll(weights, shift=k - shift_range, axis=-1) for k in range(num_shifts)]
    return sum(shifted[1:], shifted[0])


def sharpen(weights, gamma, epsilon=EPSILON):
    """Eq. (9): w(i) = w~(i)^gamma / sum_j w~(j)^gamma, computed in log space."""
    return ops.softmax(gamma * ops.log(weights + epsilon), axis=-1)


def address(
    memory, previous_weights, keys, strengths, gates, shifts, gammas, epsilon=EPSILON, cosine_epsilon=COSINE_EPSILON
):
    """The full addressing pipeline of Figure 2 for a batch of heads.

    Args:
        memory: `[batch, N, M]` memory matrix M_{t-1}.
        previous_weights: `[batch, heads, N]` weightings w_{t-1}.
        keys: `[batch, heads, M]` key vectors k_t.
        strengths: `[batch, heads, 1]` key strengths beta_t >= 0.
        gates: `[batch, heads, 1]` interpolation gates g_t in (0, 1).
        shifts: `[batch, heads, 2S+1]` shift distributions s_t (sum to 1).
        gammas: `[batch, heads, 1]` sharpening exponents gamma_t >= 1.

    Returns:
        `[batch, heads, N]` weightings w_t (each row sums to 1).
    """
    content = content_weighting(keys, strengths, memory, cosine_epsilon)
    gated = gates * content + (1.0 - gates) * previous_weights  # eq. (7)
    return sharpen(circular_shift(gated, shifts), gammas, epsilon)


def read(memory, weights):
    """Eq. (2): r = sum_i w(i) M(i), for every read head: `[batch, heads, M]`."""
    return ops.einsum("bhn,bnm->bhm", weights, memory)


def write(memory, weights, erase, add):
    """Eqs. (3)-(4) for any number of write heads: every head's erase applies to
    M_{t-1} (a product, so in any order), then every head's add (a sum, likewise):

        M~_t = M_{t-1} * prod_h (1 - w_h e_h^T),    M_t = M~_t + sum_h w_h a_h^T

    so the memory does not depend on the order of the heads, and no head's erase
    wipes what another head adds in the same step.

    Args:
        memory: `[batch, N, M]`.
        weights: `[batch, heads, N]` write weightings.
        erase: `[batch, heads, M]` erase vectors in (0, 1).
        add: `[batch, heads, M]` add vectors.
    """
    keep = ops.prod(1.0 - weights[..., :, None] * erase[:, :, None, :], axis=1)  # [batch, N, M]
    return memory * keep + ops.einsum("bhn,bhm->bnm", weights, add)
