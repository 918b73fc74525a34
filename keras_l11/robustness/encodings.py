"""How an evolved genome becomes an image.

- The direct encoding: the genome is the image, one gene per pixel in [0, 1],
  mutated by Deb's polynomial mutation (Nguyen et al.: each pixel mutated with a
  rate that halves every 1000 generations, polynomial mutation of strength 15).
- The CPPN encoding: the genome is a compositional pattern-producing network
  (Stanley 2007), a small feed-forward network of sine, sigmoid, Gaussian and
  linear units evolved in topology and weights (NEAT-style mutations: perturb
  weights, add a connection, split a connection with a new node, change a
  unit's function). The image is the network evaluated at every pixel's
  coordinates `(x, y, d = sqrt(x^2 + y^2), bias)`, x and y scaled to [-1, 1];
  its sigmoid output is the grey level. Images are smooth and regular.
"""

import copy
import dataclasses

import numpy as np

ACTIVATIONS = {
    "sine": np.sin,
    "sigmoid": lambda v: 0.5 * (1.0 + np.tanh(0.5 * v)),  # 1 / (1 + e^-v), without overflow
    "gaussian": lambda v: np.exp(-(v**2)),
    "linear": lambda v: v,
}
INPUTS = ("x", "y", "d", "bias")
OUTPUT = len(INPUTS)  # node id of the output unit


def polynomial_mutation(genes, rate, rng, eta=15.0):
    """Each gene in [0, 1] mutated with probability `rate` by Deb's polynomial
    mutation of distribution index `eta` (small, mostly local steps)."""
    genes = np.array(genes, np.float32, copy=True)
    chosen = rng.random(genes.shape) < rate
    u = rng.random(genes.shape)
    delta = np.where(u < 0.5, (2 * u) ** (1 / (eta + 1)) - 1, 1 - (2 * (1 - u)) ** (1 / (eta + 1)))
    return np.where(chosen, np.clip(genes + delta, 0.0, 1.0), genes).astype(np.float32)


def mutation_rate(generation, initial=0.1, halving=1000):
    """The direct encoding's per-pixel mutation rate, halved every `halving` generations."""
    return initial * 0.5 ** (generation // halving)


@dataclasses.dataclass
class Genome:
    """A CPPN: `order` lists node ids inputs first, output last (a topological
    order, so every connection goes forward in it); `activations` maps hidden and
    output ids to a function name; `connections` are `[source, target, weight,
    enabled]`."""

    order: list
    activations: dict
    connections: list

    @classmethod
    def initial(cls, rng):
        """No hidden units: every input connected to the sigmoid output."""
        connections = [[i, OUTPUT, float(rng.normal(0, 1.5)), True] for i in range(len(INPUTS))]
        return cls(list(range(len(INPUTS))) + [OUTPUT], {OUTPUT: "sigmoid"}, connections)

    def copy(self):
        return copy.deepcopy(self)


def coordinates(size):
    """`(x, y, d, bias)` per pixel, each `[size, size]`, x and y in [-1, 1]."""
    ys, xs = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    return {"x": xs, "y": ys, "d": np.sqrt(xs**2 + ys**2), "bias": np.ones_like(xs)}


def render(genome, size=28):
    """The CPPN's image `[size, size]` in [0, 1] (deterministic for a genome)."""
    grid = coordinates(size)
    values = {i: grid[name] for i, name in enumerate(INPUTS)}
    incoming = {}
    for source, target, weight, enabled in genome.connections:
        if enabled:
            incoming.setdefault(target, []).append((source, weight))
    for node in genome.order[len(INPUTS) :]:
        total = sum((weight * values[source] for source, weight in incoming.get(node, ())), np.zeros((size, size)))
        values[node] = ACTIVATIONS[genome.activations[node]](total)
    return values[OUTPUT].astype(np.float32)


def mutate(genome, rng, p_node=0.15, p_connection=0.25, p_weight=0.8, p_function=0.1, sigma=0.6):
    """A NEAT-style mutant of `genome` (a new object)."""
    child = genome.copy()
    for connection in child.connections:
        if rng.random() < p_weight:
            connection[2] += float(rng.normal(0, sigma))
    hidden = child.order[len(INPUTS) : -1]
    if hidden and rng.random() < p_function:
        child.activations[hidden[rng.integers(len(hidden))]] = str(rng.choice(list(ACTIVATIONS)))
    if rng.random() < p_connection:
        _add_connection(child, rng)
    if rng.random() < p_node:
        _split_connection(child, rng)
    return child


def _add_connection(genome, rng):
    position = {node: k for k, node in enumerate(genome.order)}
    existing = {(s, t) for s, t, _, _ in genome.connections}
    candidates = [
        (s, t)
        for s in genome.order[:-1]
        for t in genome.order[len(INPUTS) :]
        if position[s] < position[t] and (s, t) not in existing
    ]
    if candidates:
        s, t = candidates[rng.integers(len(candidates))]
        genome.connections.append([s, t, float(rng.normal(0, 1.5)), True])


def _split_connection(genome, rng):
    enabled = [c for c in genome.connections if c[3]]
    if not enabled:
        return
    connection = enabled[rng.integers(len(enabled))]
    connection[3] = False
    source, target, weight, _ = connection
    node = max(genome.order) + 1
    genome.order.insert(genome.order.index(target), node)
    genome.activations[node] = str(rng.choice(list(ACTIVATIONS)))
    genome.connections += [[source, node, 1.0, True], [node, target, weight, True]]
