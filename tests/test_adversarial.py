"""The attacks against exact answers and against each other, the paper's MNIST
models, CPPN images, MAP-Elites' archive, and smoke runs of both jobs."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_l11.data.mnist import grey_mnist, mnist
from keras_l11.generative.autoencoder import Autoencoder
from keras_l11.robustness import attacks, classifiers, encodings
from keras_l11.robustness.export import export_name
from keras_l11.robustness.map_elites import ClassMapElites, CPPNEncoding, DirectEncoding

from conftest import smoke_job


@pytest.fixture(scope="module")
def small_classifier():
    """FC100-100-10 trained for two epochs on 10,000 digits, and 20 training digits to attack."""
    keras.utils.set_random_seed(0)
    images, labels = grey_mnist("train")[:10_000], mnist("train")[1][:10_000]
    model = classifiers.fully_connected((100, 100))
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, labels, batch_size=100, epochs=2, verbose=0)
    x, y = images[:20], labels[:20]
    return model, x, attacks.random_wrong_targets(y, seed=1)


def test_lbfgs_stays_in_the_box_hits_the_target_and_beats_fgsm(small_classifier):
    model, x, targets = small_classifier
    found = attacks.lbfgs_attack(model, x, targets, refine_steps=3)
    assert found.success.all()
    assert found.adversarial.min() >= 0.0 and found.adversarial.max() <= 1.0
    np.testing.assert_array_equal(attacks.predict_labels(model, found.adversarial), targets)
    quick = attacks.fgsm_attack(model, x, targets)
    both = found.success & quick.success
    assert both.sum() >= 10
    ours = np.linalg.norm((found.adversarial - x)[both].reshape(both.sum(), -1), axis=1)
    theirs = np.linalg.norm((quick.adversarial - x)[both].reshape(both.sum(), -1), axis=1)
    assert (ours < theirs).mean() >= 0.9 and ours.mean() < 0.7 * theirs.mean()
    assert attacks.distortion(x, found.adversarial).shape == (20,)


def test_the_line_search_keeps_the_largest_c_that_succeeds(small_classifier):
    model, x, targets = small_classifier
    found = attacks.lbfgs_attack(model, x, targets, refine_steps=3)
    c = found.c
    _, at_c = attacks.box_lbfgs(model, x, targets, c)
    assert at_c.mean() >= 0.9  # the c it reports succeeds ...
    _, above = attacks.box_lbfgs(model, x, targets, c * 10 ** (2 / 2**3))
    assert above.mean() <= 0.2  # ... and one bracket step above it mostly fails
    smaller_c, _ = attacks.box_lbfgs(model, x, targets, c / 10)
    assert np.median(attacks.distortion(x, smaller_c)) > np.median(attacks.distortion(x, found.adversarial))


def test_lbfgs_finds_the_exact_minimum_across_a_linear_boundary():
    """Logits (0, w.x + b): the smallest change to class 1 is the distance to the line."""
    w, b = np.array([3.0, -1.0], np.float32), -1.0
    inputs = keras.Input((2,))
    score = keras.layers.Dense(
        1, kernel_initializer=keras.initializers.Constant(w[:, None]), bias_initializer=keras.initializers.Constant(b)
    )(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([keras.ops.zeros_like(score), score]))
    x = np.array([[0.2, 0.3], [0.1, 0.1], [0.25, 0.6]], np.float32)
    found = attacks.lbfgs_attack(model, x, np.ones(3, np.int32), refine_steps=10, max_iterations=200)
    exact = np.abs(x @ w + b) / np.linalg.norm(w)
    # Just past the line: at the largest c that succeeds the target's margin tends to 0.
    np.testing.assert_allclose(np.linalg.norm(found.adversarial - x, axis=1), exact, rtol=0.02)
    direction = (found.adversarial - x) / np.linalg.norm(found.adversarial - x, axis=1, keepdims=True)
    np.testing.assert_allclose(direction, np.tile(w / np.linalg.norm(w), (3, 1)), atol=0.02)


def test_the_paper_models_have_the_paper_shapes():
    assert classifiers.fully_connected((100, 100)).count_params() == 784 * 100 + 100 + 100 * 100 + 100 + 1010
    assert classifiers.softmax_classifier(1e-4).count_params() == 7850
    assert classifiers.fully_connected((123, 456))(np.zeros((2, 28, 28), np.float32)).shape == (2, 10)
    ae400 = classifiers.autoencoder_classifier(Autoencoder(784, code="sparse", code_units=400))
    assert [w.shape for w in ae400.trainable_weights] == [(400, 10), (10,)]  # only the softmax learns
    assert classifiers.lenet()(np.zeros((1, 28, 28), np.float32)).shape == (1, 10)
    assert set(np.unique(attacks.random_wrong_targets(np.zeros(1000, int)))) == set(range(1, 10))


def test_fc10_is_fitted_to_the_stationary_point_of_its_keras_objective_with_the_usual_weight_decay():
    """Weight decay lambda is a gradient lambda * w (penalty lambda/2 sum(w^2)),
    and the L-BFGS fit zeroes the gradient of the model's own Keras loss."""
    images, labels = grey_mnist("train")[:2000], mnist("train")[1][:2000]
    model = classifiers.softmax_classifier(0.1)
    kernel = model.layers[-1].kernel
    kernel.assign(np.ones(kernel.shape, np.float32))
    np.testing.assert_allclose(float(model.losses[0]), 0.05 * 7840, rtol=1e-6)
    objective, iterations = classifiers.fit_softmax_optimum(model, images, labels)
    assert iterations > 5
    with tf.GradientTape() as tape:
        logits = model(images)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits) + tf.add_n(model.losses)
    np.testing.assert_allclose(float(loss), objective, rtol=1e-5)
    gradient = tape.gradient(loss, model.trainable_variables)
    assert max(float(tf.reduce_max(tf.abs(g))) for g in gradient) < 1e-4
    untrained = classifiers.softmax_classifier(0.1)
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, untrained(images))
    assert max(float(tf.reduce_max(tf.abs(g))) for g in tape.gradient(loss, untrained.trainable_variables)) > 1e-2


def test_cppn_images_are_deterministic_and_smooth_while_direct_ones_are_not():
    rng = np.random.default_rng(0)
    genome = encodings.Genome.initial(rng)
    for _ in range(30):
        genome = encodings.mutate(genome, rng)
    assert len(genome.order) > 5  # it grew hidden units
    np.testing.assert_array_equal(encodings.render(genome), encodings.render(genome))
    fine = encodings.render(genome, 256)
    assert fine.min() >= 0 and fine.max() <= 1
    assert max(np.abs(np.diff(fine, axis=0)).max(), np.abs(np.diff(fine, axis=1)).max()) < 0.2
    direct = DirectEncoding().random(1, rng)[0].reshape(28, 28)
    assert np.abs(np.diff(direct, axis=0)).mean() > 5 * np.abs(np.diff(encodings.render(genome), axis=0)).mean()
    same = [encodings.mutate(genome, np.random.default_rng(3)) for _ in range(2)]
    assert same[0] == same[1] and same[0] is not genome
    mutated = encodings.polynomial_mutation(np.full(10_000, 0.5, np.float32), 0.1, rng)
    assert 0.08 < np.mean(mutated != 0.5) < 0.12 and mutated.min() >= 0 and mutated.max() <= 1
    assert encodings.mutation_rate(2500) == pytest.approx(0.025)


@pytest.mark.parametrize("encoding", [DirectEncoding(), CPPNEncoding()], ids=["direct", "cppn"])
def test_map_elites_keeps_the_best_of_each_class_and_never_loses_a_champion(encoding):
    offered = []
    calls = []

    def score(images):  # a fixed random linear classifier, softmax
        calls.append(len(images))
        logits = images.reshape(len(images), -1) @ np.random.default_rng(5).normal(0, 0.2, (784, 10))
        p = np.exp(logits - logits.max(1, keepdims=True))
        offered.append(p / p.sum(1, keepdims=True))
        return offered[-1]

    search = ClassMapElites(encoding, score, batch=16, seed=0)
    history = []
    for _ in range(12):
        search.step()
        history.append(search.champions()[1])
    history = np.array(history)
    assert (np.diff(history, axis=0) >= 0).all()  # no class's champion ever got worse
    np.testing.assert_allclose(history[-1], np.concatenate(offered).max(0))  # the best ever offered
    assert calls == [16] * 12  # one batched call per generation
    images, confidence = search.champions()
    np.testing.assert_allclose(np.diag(score(images)), confidence, rtol=1e-6)  # champions are what was scored


def test_distortion_of_no_example_is_empty_and_its_mean_nan():
    """When no attack succeeds, the rows' distortion is nan (it was a reshape error)."""
    from keras_l11.robustness.task import mean_distortion

    none = np.zeros((0, 28, 28), np.float32)
    assert attacks.distortion(none, none).shape == (0,)
    assert np.isnan(mean_distortion(none, none))
    x = np.zeros((2, 28, 28), np.float32)
    np.testing.assert_allclose(attacks.distortion(x, x + 0.5), [0.5, 0.5])


def test_the_adversarial_job_regenerates_both_tables(tmp_path):
    summary = smoke_job("adversarial", tmp_path, "adversarial")
    ev = summary["evaluation"]
    assert all(m["lbfgs_success"] == 1.0 for m in ev["models"].values())
    for name, row in ev["cross_model"].items():
        if name in row:
            assert row[name] == 100.0  # each model is fooled by its own examples
    assert np.mean([m["lbfgs_distortion"] < m["fgsm_distortion"] for m in ev["models"].values()]) >= 0.7
    transfer = [v for name, row in ev["cross_model"].items() if name in row for k, v in row.items() if k != name]
    noise = list(ev["cross_model"]["Gaussian noise, stddev 0.1"].values())
    assert np.mean(transfer) > np.mean(noise) + 10  # adversarial examples transfer more than noise hurts
    assert len(ev["cross_training"]) == 7 and (tmp_path / "adversarial" / "tables.md").exists()
    tables = (tmp_path / "adversarial" / "tables.md").read_text()
    assert "| FC10(1e-4) | 100.0% (100%)" in tables and "(26.2%)" in tables
    assert summary["examples_png"].endswith("adversarial.png")
    # Every model is served: its export classifies the test digits as the trained model did.
    assert len(summary["exports"]) == len(ev["models"]) == 9
    test_images, test_labels = grey_mnist("test"), mnist("test")[1]
    for name, path in (("FC10(1e-4)", summary["exports"][0]), ("FC100-100-10' (P2)", summary["exports"][-1])):
        assert os.path.basename(os.path.dirname(path)) == export_name("adversarial", name)
        served = exported_test_error(path, test_images, test_labels)
        assert served == pytest.approx(ev["models"][name]["test_error"], abs=1e-4), name


def exported_test_error(path, images, labels):
    classify = tf.saved_model.load(path).signatures["classify"]
    outputs = classify(images=tf.constant(images))
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
    return float(np.mean(outputs["classes"].numpy() != labels))


@pytest.mark.parametrize("encoding", ["direct", "cppn"])
def test_the_fooling_job_evolves_confident_unrecognisable_digits(tmp_path, encoding):
    summary = smoke_job("fooling", tmp_path, f"fooling_{encoding}", "--encoding", encoding)
    ev = summary["evaluation"]
    assert ev["lenet_test_error"] < 0.05
    assert ev["classes_fooled"] >= 0.1 and np.median(ev["champion_confidence"]) > 0.99
    assert summary["champions_png"].endswith(f"champions_{encoding}.png")
    assert tf.io.gfile.exists(summary["champions_png"])
    served = exported_test_error(summary["export"], grey_mnist("test"), mnist("test")[1])
    assert served == pytest.approx(ev["lenet_test_error"], abs=1e-4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"grey levels in \[0, 1\]"):
        tf.saved_model.load(summary["export"]).signatures["classify"](images=tf.fill([1, 28, 28], 255.0))


def test_the_ablations_target_choices_are_wrong_labels_ranked_second_and_last():
    """`benchmarks.robustness_ablations.target_labels`: random wrong labels, the label a
    model ranks second (its best wrong one) and the one it ranks last, from its logits."""
    import keras

    from benchmarks.robustness_ablations import target_labels

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 50)
    model = keras.Sequential([keras.Input((10,)), keras.layers.Identity()])
    choices = target_labels(model, logits, labels, seed=0)
    assert list(choices) == ["random (the job's)", "the FC10's second-ranked label", "the FC10's last-ranked label"]
    order = np.argsort(-logits, axis=1)
    for row, label in enumerate(labels):
        wrong = [c for c in order[row] if c != label]
        assert choices["the FC10's second-ranked label"][row] == wrong[0]
        assert choices["the FC10's last-ranked label"][row] == wrong[-1]
    for targets in choices.values():
        assert targets.dtype == np.int32 and not np.any(targets == labels)


def test_magnified_perturbations_have_the_asked_rms_and_clipping_only_clips():
    from keras_l11.robustness.task import magnified

    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (6, 28, 28)).astype(np.float32)
    adversarial = np.clip(images + rng.normal(0, 0.03, images.shape), 0, 1).astype(np.float32)
    loose = magnified(images, adversarial, 0.1, clip=False)
    np.testing.assert_allclose(attacks.distortion(images, loose), 0.1, rtol=1e-4)
    np.testing.assert_allclose(magnified(images, adversarial, 0.1), np.clip(loose, 0, 1))
    assert loose.min() < 0 or loose.max() > 1  # the unclipped ones leave the box
