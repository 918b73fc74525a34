"""MAP-Elites over a classifier's classes, on pyribs' grid archive (Nguyen et al. 2015).

The archive has one cell per class and keeps that class's champion: the image
the classifier gives the highest probability of the class. Each generation,
parents are drawn uniformly from the champions, mutated, the whole batch of
children is scored in one call of the classifier, and every child is offered
to every class: it replaces the champion of any class it beats (pyribs adds
it under each class's measure with that class's probability as the
objective; a cell only ever takes a better solution, so no champion is lost).

Genomes of the direct encoding are stored in the archive as they are (784
genes). CPPN genomes vary in size, so the archive stores a genome id and the
genomes live beside it.
"""

import numpy as np
from ribs.archives import GridArchive

from keras_l11.robustness import encodings


class DirectEncoding:
    """Images as genomes: one gene per pixel, uniform random at first."""

    def __init__(self, size=28, initial_rate=0.1, halving=1000):
        self.size, self.initial_rate, self.halving = size, initial_rate, halving
        self.solution_dim = size * size

    def random(self, count, rng):
        return list(rng.random((count, self.solution_dim), dtype=np.float32))

    def mutate(self, genome, rng, generation):
        return encodings.polynomial_mutation(
            genome, encodings.mutation_rate(generation, self.initial_rate, self.halving), rng
        )

    def render(self, genomes):
        return np.stack(genomes).reshape(-1, self.size, self.size)

    def store(self, genomes):
        return np.stack(genomes)

    def load(self, solutions):
        return list(solutions)

    def forget_all_but(self, solutions):
        """Nothing to forget: the archive holds the genomes themselves."""


class CPPNEncoding:
    """CPPN genomes; the archive holds their ids."""

    solution_dim = 1

    def __init__(self, size=28):
        self.size = size
        self.genomes = {}
        self.next_id = 0

    def random(self, count, rng):
        return [encodings.mutate(encodings.Genome.initial(rng), rng) for _ in range(count)]

    def mutate(self, genome, rng, generation):
        return encodings.mutate(genome, rng)

    def render(self, genomes):
        return np.stack([encodings.render(g, self.size) for g in genomes])

    def store(self, genomes):
        ids = []
        for genome in genomes:
            self.genomes[self.next_id] = genome
            ids.append(self.next_id)
            self.next_id += 1
        return np.array(ids, np.float64)[:, None]

    def load(self, solutions):
        return [self.genomes[int(s[0])] for s in solutions]

    def forget_all_but(self, solutions):
        """Drops the genomes no archived solution (id) refers to any more."""
        live = {int(s[0]) for s in solutions}
        self.genomes = {i: g for i, g in self.genomes.items() if i in live}


class ClassMapElites:
    """Champion per class of `score(images) -> probabilities [n, num_classes]`.

    Args:
        encoding: `DirectEncoding` or `CPPNEncoding`.
        score: the classifier, batched.
        num_classes: cells of the archive.
        batch: children per generation.
        seed: seeds parents, mutations and the archive.
    """

    def __init__(self, encoding, score, num_classes=10, batch=100, seed=0):
        self.encoding, self.score, self.num_classes, self.batch = encoding, score, num_classes, batch
        self.rng = np.random.default_rng(seed)
        self.archive = GridArchive(
            solution_dim=encoding.solution_dim, dims=[num_classes], ranges=[(-0.5, num_classes - 0.5)], seed=seed
        )
        self.generation = 0

    def offer(self, genomes):
        """Scores `genomes` in one call and offers each to every class; returns the probabilities."""
        probabilities = np.asarray(self.score(self.encoding.render(genomes)), np.float64)
        n, k = probabilities.shape
        solutions = np.repeat(self.encoding.store(genomes), k, axis=0)
        measures = np.tile(np.arange(k, dtype=np.float64), n)[:, None]
        self.archive.add(solutions, probabilities.reshape(-1), measures)
        return probabilities

    def step(self):
        """One generation: random genomes first, then mutants of uniformly drawn champions."""
        if self.generation == 0:
            children = self.encoding.random(self.batch, self.rng)
        else:
            parents = self.encoding.load(self.archive.sample_elites(self.batch)["solution"])
            children = [self.encoding.mutate(p, self.rng, self.generation) for p in parents]
        self.offer(children)
        self.generation += 1
        self.encoding.forget_all_but(self.archive.data("solution"))

    def champions(self):
        """`(images [num_classes, H, W], confidence [num_classes])` (nan where a class has none)."""
        found = self.archive.retrieve(np.arange(self.num_classes, dtype=np.float64)[:, None])
        occupied, data = found
        size = self.encoding.size
        images = np.zeros((self.num_classes, size, size), np.float32)
        confidence = np.full(self.num_classes, np.nan)
        for c in np.flatnonzero(occupied):
            images[c] = self.encoding.render(self.encoding.load(data["solution"][c : c + 1]))[0]
            confidence[c] = data["objective"][c]
        return images, confidence
