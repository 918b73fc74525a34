"""Adversarial examples for any Keras classifier (Szegedy et al. 2014; Goodfellow et al. 2015).

Box-constrained L-BFGS, as the lecture states it: for a target label l,

    minimise  c |r| + loss_f(x + r, l)   subject to  x + r in [0, 1]^m

with `|r|` the Euclidean norm and `loss_f` the cross-entropy of the
classifier's softmax. A larger c weighs the perturbation more, so the smallest
perturbation that is classified as l comes from the largest c that still
succeeds; `lbfgs_attack` finds that c by a line search (a coarse descent in
powers of 10, then bisection in log space). The paper's text says "minimum c";
under this objective the minimum-distortion answer is the largest successful
c, which is what is searched for.

All examples of a batch are solved together by SciPy's L-BFGS-B: the objective
is a sum of per-example terms, so its minimiser is every example's own
minimiser. The fast gradient sign method (FGSM), targeted, is the second,
cheaper attack: `x - eps * sign(grad_x loss(x, l))`, with the smallest eps of a
grid that succeeds.

Models must map images to logits (`from_logits` classifiers); inputs are
float32 in [0, 1].
"""

import dataclasses
import weakref

import numpy as np
import scipy.optimize
import tensorflow as tf


@dataclasses.dataclass
class AttackResult:
    """What an attack found, per example.

    Attributes:
        adversarial: `x + r`, in [0, 1], the input's shape.
        success: classified as the target.
        c: the L-BFGS penalty weight that gave it (nan for FGSM or failure).
        epsilon: FGSM's step (nan for L-BFGS or failure).
    """

    adversarial: np.ndarray
    success: np.ndarray
    c: np.ndarray
    epsilon: np.ndarray

    def perturbation(self, images):
        return self.adversarial - images


def distortion(images, adversarial):
    """Per example `sqrt(mean((x' - x)^2))`: the paper's per-pixel RMS distortion."""
    diff = np.asarray(adversarial, np.float32) - np.asarray(images, np.float32)
    if not len(diff):  # no example (e.g. no attack succeeded): no distortion, not a reshape error
        return np.zeros(0, np.float32)
    return np.sqrt(np.mean(diff.reshape(len(diff), -1) ** 2, axis=1))


def predict_labels(model, images, batch=1000):
    return np.concatenate(
        [np.argmax(model(images[i : i + batch], training=False), -1) for i in range(0, len(images), batch)]
    )


_TRACED = weakref.WeakKeyDictionary()  # model -> its traced objective, reused across calls


def _loss_and_gradient(model):
    if model in _TRACED:
        return _TRACED[model]

    @tf.function(reduce_retracing=True)
    def fn(z, x, targets, c):
        with tf.GradientTape() as tape:
            tape.watch(z)
            logits = tf.cast(model(z, training=False), tf.float32)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            flat = tf.reshape(z - x, [tf.shape(z)[0], -1])
            norm = tf.sqrt(tf.reduce_sum(tf.square(flat), 1) + 1e-12)
            total = tf.reduce_sum(c * norm + loss)
        return total, tape.gradient(total, z), tf.argmax(logits, -1, output_type=tf.int32)

    _TRACED[model] = fn
    return fn


def box_lbfgs(model, images, targets, c, max_iterations=100, start=None):
    """Minimises `c_i |r_i| + loss(x_i + r_i, l_i)` over the box for every example:
    `(adversarial, success)`. `c` is a scalar or one weight per example."""
    images = np.asarray(images, np.float32)
    shape = images.shape
    c = np.broadcast_to(np.asarray(c, np.float32), (len(images),)).copy()
    fn = _loss_and_gradient(model)
    x, t, cc = tf.constant(images), tf.constant(np.asarray(targets, np.int32)), tf.constant(c)

    def objective(z):
        total, gradient, _ = fn(tf.constant(z.reshape(shape), tf.float32), x, t, cc)
        return float(total), gradient.numpy().astype(np.float64).ravel()

    z0 = (images if start is None else np.asarray(start, np.float32)).astype(np.float64).ravel()
    solution = scipy.optimize.minimize(
        objective, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * z0.size, options={"maxiter": max_iterations}
    )
    adversarial = np.clip(solution.x.reshape(shape), 0.0, 1.0).astype(np.float32)
    return adversarial, predict_labels(model, adversarial) == np.asarray(targets)


def lbfgs_attack(model, images, targets, c_max=10.0, decades=7, refine_steps=4, max_iterations=100):
    """The smallest perturbation classified as each target, by a line search over c.

    Coarse: c = c_max, c_max / 10, ... (`decades` values) until an example
    succeeds. Then `refine_steps` bisections in log space between the largest
    success and the smallest failure above it. The kept example is the
    successful one with the smallest distortion.

    Returns:
        `AttackResult`; `c` is the largest c found to succeed (within a factor of
        `10 ** (1 / 2 ** refine_steps)` of the boundary).
    """
    images = np.asarray(images, np.float32)
    targets = np.asarray(targets, np.int32)
    n = len(images)
    best = images.copy()
    best_distortion = np.full(n, np.inf)
    success = np.zeros(n, bool)
    c_ok = np.full(n, np.nan)  # the largest c that succeeded
    c_fail = np.full(n, np.nan)  # the smallest c above it that failed

    def attempt(rows, c):
        adversarial, ok = box_lbfgs(model, images[rows], targets[rows], c, max_iterations)
        d = distortion(images[rows], adversarial)
        for k, i in enumerate(rows):
            if ok[k]:
                success[i] = True
                c_ok[i] = c[k] if np.isnan(c_ok[i]) else max(c_ok[i], c[k])
                if d[k] < best_distortion[i]:
                    best[i], best_distortion[i] = adversarial[k], d[k]
            else:
                c_fail[i] = c[k] if np.isnan(c_fail[i]) else min(c_fail[i], c[k])
        return ok

    for k in range(decades):
        rows = np.flatnonzero(~success)
        if not len(rows):
            break
        attempt(rows, np.full(len(rows), c_max / 10.0**k))
    for _ in range(refine_steps):
        rows = np.flatnonzero(success & ~np.isnan(c_fail) & (c_fail > c_ok))
        if not len(rows):
            break
        attempt(rows, np.sqrt(c_ok[rows] * c_fail[rows]))
    return AttackResult(best, success, np.where(success, c_ok, np.nan), np.full(n, np.nan))


def fgsm(model, images, targets, epsilon):
    """Targeted fast gradient sign step `clip(x - eps * sign(grad_x loss(x, l)), 0, 1)`."""
    x = tf.constant(np.asarray(images, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = tf.cast(model(x, training=False), tf.float32)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=np.asarray(targets, np.int32), logits=logits)
    step = tf.sign(tape.gradient(loss, x))
    eps = tf.reshape(tf.constant(np.asarray(epsilon, np.float32)), [-1] + [1] * (len(x.shape) - 1))
    return tf.clip_by_value(x - eps * step, 0.0, 1.0).numpy()


FGSM_EPSILONS = tuple(np.round(np.linspace(0.005, 0.5, 100), 4))  # the steps tried, smallest first


def fgsm_attack(model, images, targets, epsilons=FGSM_EPSILONS):
    """The smallest FGSM step of `epsilons` that makes each example its target."""
    images = np.asarray(images, np.float32)
    targets = np.asarray(targets)
    n = len(images)
    best, success, chosen = images.copy(), np.zeros(n, bool), np.full(n, np.nan)
    for eps in epsilons:
        rows = np.flatnonzero(~success)
        if not len(rows):
            break
        adversarial = fgsm(model, images[rows], targets[rows], np.full(len(rows), eps))
        ok = predict_labels(model, adversarial) == targets[rows]
        best[rows[ok]], success[rows[ok]], chosen[rows[ok]] = adversarial[ok], True, eps
    return AttackResult(best, success, np.full(n, np.nan), chosen)


def random_wrong_targets(labels, num_classes=10, seed=0):
    """A target per example, uniformly among the classes other than its label."""
    rng = np.random.default_rng(seed)
    return ((np.asarray(labels) + rng.integers(1, num_classes, len(labels))) % num_classes).astype(np.int32)
