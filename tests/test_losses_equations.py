"""Each deep method's loss on a hand-sized batch against its paper's equation written out plainly
in numpy (loops over items, pairs and bits, in float64), never through the code under test. The
batch conventions are the ones each method's docstring states (pair terms averaged over the
pairs i != j, item terms over the items; the paper sums): a wrong sign, a missing term or a
term's weight applied to the wrong part changes the value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hashviz.methods import create_method

LABELS = np.array([0, 0, 1, 2])
RNG = np.random.default_rng(7)
U = RNG.normal(0, 1.2, (4, 8)).astype(np.float32)          # network outputs, B = 4 items, 8 bits


def loss_of(method, u: np.ndarray = U, labels: np.ndarray = LABELS) -> float:
    method.eval()     # no training-time side effects (pq codeword restarts); the loss is the same
    with torch.no_grad():
        return method(torch.from_numpy(u), torch.from_numpy(labels)).item()


def similar(i: int, j: int) -> float:
    return float(LABELS[i] == LABELS[j])


def pairs(n: int):
    return [(i, j) for i in range(n) for j in range(n) if i != j]


def sign(x: float) -> float:
    return 1.0 if x > 0 else -1.0      # sign(0) = -1, as the codes are packed


def cross_entropy(logits: np.ndarray, label: int) -> float:
    top = logits.max()
    return float(top + math.log(sum(math.exp(v - top) for v in logits)) - logits[label])


def sylvester(n: int) -> np.ndarray:
    """The Hadamard matrix of size n (a power of two) by its recursive definition."""
    h = np.ones((1, 1))
    while len(h) < n:
        h = np.block([[h, h], [h, -h]])
    return h


def params(method, **values) -> None:
    """Set a method's parameters (classifier, codebooks, centres) to given arrays."""
    with torch.no_grad():
        for name, value in values.items():
            dict(method.named_parameters())[name].copy_(torch.from_numpy(np.asarray(value, np.float32)))


# ---------------------------------------------------------------- pairwise: DPSH, DCH

def test_dpsh_is_the_negative_pairwise_likelihood_plus_the_quantization_term():
    """Li, Wang, Kang (arXiv:1511.03855), eq. 4: L = -sum_{i!=j} (s_ij Theta_ij - log(1 + e^Theta_ij))
    + eta sum_i ||b_i - u_i||^2, Theta_ij = u_i.u_j / 2, b = sign(u); with u = tanh(output), the
    pair term averaged over pairs and the quantization term over items, divided by the bits."""
    eta, bits = 0.2, 8
    u = np.tanh(U.astype(np.float64))
    likelihood = []
    for i, j in pairs(4):
        theta = sum(u[i, k] * u[j, k] for k in range(bits)) / 2
        likelihood.append(-(similar(i, j) * theta - math.log(1 + math.exp(theta))))
    quantization = sum((sign(u[i, k]) - u[i, k]) ** 2 for i in range(4) for k in range(bits)) / 4
    expected = np.mean(likelihood) + eta * quantization / bits
    assert loss_of(create_method("dpsh", bits, eta=eta)) == pytest.approx(expected, rel=1e-5)


def test_dch_is_the_weighted_cauchy_cross_entropy_plus_the_cauchy_quantization_loss():
    """Cao, Long, Liu, Wang (CVPR 2018), eqs. 6-9: d(u_i, u_j) = K/2 (1 - cos(u_i, u_j));
    L = sum_ij w_ij (s_ij log(d_ij / gamma) + log(1 + gamma / d_ij)) / |S|
        + lambda mean_i log(1 + d(|u_i|, 1) / gamma),
    w_ij = |S| / |S_1| on similar pairs and |S| / |S_0| on dissimilar ones (S: the pairs i != j)."""
    gamma, lam, bits = 20.0, 0.1, 8
    u = U.astype(np.float64)

    def distance(a, b):
        return bits / 2 * (1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    all_pairs = pairs(4)
    n_similar = sum(similar(i, j) for i, j in all_pairs)
    weight = {1.0: len(all_pairs) / n_similar, 0.0: len(all_pairs) / (len(all_pairs) - n_similar)}
    pair_term = sum(weight[similar(i, j)] * (similar(i, j) * math.log(distance(u[i], u[j]) / gamma)
                                              + math.log(1 + gamma / distance(u[i], u[j])))
                    for i, j in all_pairs) / len(all_pairs)
    quantization = np.mean([math.log(1 + distance(np.abs(u[i]), np.ones(bits)) / gamma) for i in range(4)])
    expected = pair_term + lam * quantization
    assert loss_of(create_method("dch", bits, gamma=gamma, lam=lam)) == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- classification: CSQ, GreedyHash, SSDH

def test_csq_is_the_central_cross_entropy_to_hadamard_centres_plus_the_quantization_term():
    """Yuan et al. (arXiv:1908.00347), eqs. 5-7: with h = tanh(u) and the class's hash centre c
    (rows of the 8 x 8 Hadamard matrix after the all-ones row), L_C = -(1/K) sum_k
    [(c_k + 1)/2 log((h_k + 1)/2) + (1 - (c_k + 1)/2) log(1 - (h_k + 1)/2)], averaged over
    items, plus lambda mean (|h| - 1)^2 (the quantization term, here squared)."""
    lam, bits = 0.5, 8
    centres = sylvester(bits)[1:4]                       # classes 0, 1, 2
    h = np.tanh(U.astype(np.float64))
    central = []
    for i in range(4):
        c = (centres[LABELS[i]] + 1) / 2
        p = (h[i] + 1) / 2
        central.append(-np.mean([c[k] * math.log(p[k]) + (1 - c[k]) * math.log(1 - p[k]) for k in range(bits)]))
    quantization = np.mean([(abs(h[i, k]) - 1) ** 2 for i in range(4) for k in range(bits)])
    expected = np.mean(central) + lam * quantization
    assert loss_of(create_method("csq", bits, num_classes=3, lam=lam)) == pytest.approx(expected, rel=1e-5)


def test_greedyhash_is_the_cross_entropy_of_the_signs_plus_the_cubic_term():
    """Su et al. (NeurIPS 2018), eq. 7: b = sign(u) fed to a linear classifier W (no bias),
    L = CE(W b, y) + alpha mean | |u| - 1 |^3 (averaged over items and bits)."""
    alpha, bits = 0.1, 8
    w = RNG.normal(0, 0.5, (3, bits)).astype(np.float32)
    method = create_method("greedyhash", bits, num_classes=3, alpha=alpha)
    params(method, **{"classifier.weight": w})
    u = U.astype(np.float64)
    ce = np.mean([cross_entropy(w.astype(np.float64) @ [sign(v) for v in u[i]], LABELS[i]) for i in range(4)])
    cubic = np.mean([abs(abs(u[i, k]) - 1) ** 3 for i in range(4) for k in range(bits)])
    assert loss_of(method) == pytest.approx(ce + alpha * cubic, rel=1e-5)


def test_ssdh_is_the_classification_loss_minus_the_binarisation_plus_the_balance_term():
    """Yang, Lin, Chen (arXiv:1507.00101), eq. 6: h = sigmoid(u) classified by W h + v,
    L = CE - alpha (1/N) sum_n (1/K) ||h_n - 0.5||^2 + beta (1/N) sum_n (mean_k h_nk - 0.5)^2."""
    alpha, beta, bits = 0.7, 1.3, 8
    w, v = RNG.normal(0, 0.5, (3, bits)).astype(np.float32), RNG.normal(0, 0.5, 3).astype(np.float32)
    method = create_method("ssdh", bits, num_classes=3, alpha=alpha, beta=beta)
    params(method, **{"classifier.weight": w, "classifier.bias": v})
    h = 1 / (1 + np.exp(-U.astype(np.float64)))
    ce = np.mean([cross_entropy(w.astype(np.float64) @ h[i] + v, LABELS[i]) for i in range(4)])
    binarise = np.mean([sum((h[i, k] - 0.5) ** 2 for k in range(bits)) / bits for i in range(4)])
    balance = np.mean([(np.mean(h[i]) - 0.5) ** 2 for i in range(4)])
    assert loss_of(method) == pytest.approx(ce - alpha * binarise + beta * balance, rel=1e-5)


# ---------------------------------------------------------------- quantization: DPQ, DQN
# 8 bits as M = 4 sub-spaces of K = 4 codewords (2 bits each), d_sub = 2: u has 8 dimensions.

M, K, D = 4, 4, 2
CODEWORDS = RNG.normal(0, 1, (M, K, D)).astype(np.float32)


def assignments(z: np.ndarray, temperature: float = 1.0):
    """Per item and sub-space: softmax_k(-||z_m - C_mk||^2 / T) and the nearest codeword."""
    probs, nearest = np.zeros((len(z), M, K)), np.zeros((len(z), M), int)
    for i in range(len(z)):
        for m in range(M):
            dist = [np.sum((z[i, m * D:(m + 1) * D] - CODEWORDS[m, k]) ** 2) for k in range(K)]
            e = np.exp(-(np.array(dist) - min(dist)) / temperature)
            probs[i, m], nearest[i, m] = e / e.sum(), int(np.argmin(dist))
    return probs, nearest


def test_dpq_is_both_cross_entropies_the_central_loss_the_gap_and_the_gini_terms():
    """Klein & Wolf (arXiv:1711.08589), eqs. 1-9: soft s_m = sum_k p_mk C_mk with
    p = softmax(-||z_m - C_mk||^2 / T), hard h_m = C_m[argmin_k]; L = CE(W s + v) + CE(W h + v)
    + lam_c (||s - c_y||^2 + ||h - c_y||^2) / 2 + lam_q ||s - h||^2
    + lam_g (mean_{i,m} (1 - sum_k p^2) - mean_m (1 - sum_k (mean_i p)^2))."""
    lam_c, lam_q, lam_g = 0.3, 0.2, 0.4
    w, v = RNG.normal(0, 0.5, (3, M * D)).astype(np.float32), RNG.normal(0, 0.5, 3).astype(np.float32)
    centres = RNG.normal(0, 0.5, (3, M * D)).astype(np.float32)
    method = create_method("dpq", 8, num_classes=3, K=K, d_sub=D, restart_after=0, lam_centre=lam_c,
                           lam_quant=lam_q, lam_gini=lam_g)
    params(method, codewords=CODEWORDS, centres=centres, **{"classifier.weight": w, "classifier.bias": v})
    z = U.astype(np.float64)
    probs, nearest = assignments(z)
    soft = np.stack([np.concatenate([probs[i, m] @ CODEWORDS[m] for m in range(M)]) for i in range(4)])
    hard = np.stack([np.concatenate([CODEWORDS[m, nearest[i, m]] for m in range(M)]) for i in range(4)])
    terms = []
    for i in range(4):
        c = centres[LABELS[i]]
        terms.append(cross_entropy(w @ soft[i] + v, LABELS[i]) + cross_entropy(w @ hard[i] + v, LABELS[i])
                     + lam_c * (np.sum((soft[i] - c) ** 2) + np.sum((hard[i] - c) ** 2)) / 2
                     + lam_q * np.sum((soft[i] - hard[i]) ** 2))
    gini_item = np.mean([1 - np.sum(probs[i, m] ** 2) for i in range(4) for m in range(M)])
    gini_batch = np.mean([1 - np.sum(probs[:, m].mean(0) ** 2) for m in range(M)])
    expected = np.mean(terms) + lam_g * (gini_item - gini_batch)
    assert loss_of(method) == pytest.approx(expected, rel=1e-5)


def test_dqn_is_the_pairwise_cosine_loss_plus_the_product_quantization_error():
    """Cao et al. (AAAI 2016), eq. 4 with z = u / ||u||: L = mean_{i!=j} (s_ij - z_i.z_j)^2
    + lam mean_i ||z_i - C h_i||^2, C h_i the concatenated nearest codewords of z_i."""
    lam = 0.3
    method = create_method("dqn", 8, num_classes=3, K=K, d_sub=D, restart_after=0, lam=lam)
    params(method, codewords=CODEWORDS)
    z = U.astype(np.float64) / np.linalg.norm(U.astype(np.float64), axis=1, keepdims=True)
    _, nearest = assignments(z)
    pair_term = np.mean([(similar(i, j) - z[i] @ z[j]) ** 2 for i, j in pairs(4)])
    quantization = np.mean([sum(np.sum((z[i, m * D:(m + 1) * D] - CODEWORDS[m, nearest[i, m]]) ** 2)
                                for m in range(M)) for i in range(4)])
    assert loss_of(method) == pytest.approx(pair_term + lam * quantization, rel=1e-5)
