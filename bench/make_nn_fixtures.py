#!/usr/bin/env python3
"""Writes Tests/FolioNNTests/Fixtures/*.json: PyTorch (float64) outputs and gradients for
FolioNN's layers on fixed small inputs. Run once with torch (e.g. the peers' venv); the
JSON files are committed.

Folio's LSTM stores kernel [input, 4*units] and recurrent_kernel [units, 4*units] (gates
i, f, g, o) and one bias; PyTorch's nn.LSTM stores weight_ih [4*units, input],
weight_hh [4*units, units] and two biases. So kernel = weight_ih^T, recurrent_kernel =
weight_hh^T, bias = bias_ih with bias_hh = 0. Padded positions: pack_padded_sequence.
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FolioNNTests", "Fixtures")
torch.manual_seed(20261129)
torch.set_default_dtype(torch.float64)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def recurrent_fixture(name, layer, x, lengths, params):
    """Outputs and gradients of `layer` (nn.LSTM or nn.GRU, one layer) on x with lengths;
    params maps Folio's names to (the layer's parameter, whether Folio stores it transposed)."""
    batch, steps, inputs = x.shape
    folio = lambda tensor, transposed: flat(tensor.t() if transposed else tensor)
    payload = {"batch": batch, "steps": steps, "input_dim": inputs, "units": layer.hidden_size, "lengths": lengths,
               "input": flat(x)}
    payload.update({key: folio(*value) for key, value in params.items()})
    for mode in ["sequences", "last"]:
        layer.zero_grad()
        x.grad = None
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = layer(packed)
        h = state[0] if isinstance(layer, torch.nn.LSTM) else state
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=steps)
        y = out if mode == "sequences" else h[0]
        weights = torch.randn(y.shape)
        (y * weights).sum().backward()
        payload[mode] = {"output": flat(y), "output_gradient": flat(weights), "input_gradient": flat(x.grad)}
        payload[mode].update({key + "_gradient": folio(param.grad, transposed) for key, (param, transposed) in params.items()})
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(payload, f)


def lstm_fixture(name, batch, steps, inputs, units, lengths):
    """One bias: Folio's bias = bias_ih with bias_hh = 0. Returns the input."""
    lstm = torch.nn.LSTM(inputs, units, batch_first=True)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
    x = torch.randn(batch, steps, inputs, requires_grad=True)
    recurrent_fixture(name, lstm, x, lengths, {"kernel": (lstm.weight_ih_l0, True), "recurrent_kernel": (lstm.weight_hh_l0, True),
                                                "bias": (lstm.bias_ih_l0, False)})
    return x


# GRU: kernel = weight_ih^T, recurrent_kernel = weight_hh^T (gates r, z, n), two biases.
def gru_fixture(name, units, lengths, x=None, batch=0, steps=0, inputs=0):
    gru = torch.nn.GRU(x.shape[2] if x is not None else inputs, units, batch_first=True)
    if x is None:
        x = torch.randn(batch, steps, inputs, requires_grad=True)
    recurrent_fixture(name, gru, x, lengths, {"kernel": (gru.weight_ih_l0, True), "recurrent_kernel": (gru.weight_hh_l0, True),
                                              "input_bias": (gru.bias_ih_l0, False), "recurrent_bias": (gru.bias_hh_l0, False)})


batch, steps, inputs, units = 3, 6, 4, 5
lengths = [6, 4, 1]
x = lstm_fixture("lstm", batch, steps, inputs, units, lengths)
gru_fixture("gru", units, lengths, x=x)

rows, features, classes = 5, 7, 4
xd = torch.randn(rows, features, requires_grad=True)
dense = torch.nn.Linear(features, classes)
labels = [0, 3, 1, 1, 2]
logits = dense(xd)
loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
loss.backward()
with open(os.path.join(OUT, "dense_crossentropy.json"), "w") as f:
    json.dump({"rows": rows, "features": features, "classes": classes, "labels": labels, "input": flat(xd),
               "kernel": flat(dense.weight.t()), "bias": flat(dense.bias), "logits": flat(logits), "loss": float(loss),
               "kernel_gradient": flat(dense.weight.grad.t()), "bias_gradient": flat(dense.bias.grad),
               "input_gradient": flat(xd.grad)}, f)
print("fixtures written to", os.path.normpath(OUT))

# Optimizer updates, computed by Keras itself (TensorFlow backend), on fixed gradients.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402

start = np.array([0.5, -1.0, 2.0, 0.0, 3.0], dtype=np.float32)
gradients = [np.array(g, dtype=np.float32) for g in
             [[0.1, -0.2, 0.3, 0.0, 1.0], [0.5, 0.5, -0.5, 0.2, -1.0], [-0.3, 0.1, 0.0, 0.4, 2.0], [1.0, -1.0, 0.5, -0.5, 0.0]]]
cases = {
    "adam": lambda: keras.optimizers.Adam(learning_rate=0.01),
    "adamw": lambda: keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "adam_global_clipnorm": lambda: keras.optimizers.Adam(learning_rate=0.01, global_clipnorm=0.5),
    "adam_amsgrad": lambda: keras.optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=0.01),
    "rmsprop_momentum_centered": lambda: keras.optimizers.RMSprop(learning_rate=0.01, momentum=0.5, centered=True),
    "sgd_exponential_decay": lambda: keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)),
    "sgd_cosine_warmup": lambda: keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.CosineDecay(0.0, decay_steps=3, warmup_target=0.1, warmup_steps=2)),
    "sgd_inverse_time": lambda: keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5), momentum=0.9),
    "sgd_piecewise": lambda: keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.05, 0.01])),
}
result = {"start": [float(v) for v in start], "gradients": [[float(v) for v in g] for g in gradients]}
for name, make in cases.items():
    variable = keras.Variable(start.copy())
    optimizer = make()
    steps = []
    for g in gradients:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        steps.append([float(v) for v in np.array(variable)])
    result[name] = steps
result["keras"] = keras.__version__
# Rprop has no Keras counterpart: PyTorch's (etas 0.5, 1.2; step sizes 1e-6 to 50).
w = torch.tensor(start.astype(np.float64), requires_grad=True)
rprop = torch.optim.Rprop([w], lr=0.01)
steps = []
for g in gradients:
    w.grad = torch.tensor(g.astype(np.float64))
    rprop.step()
    steps.append([float(v) for v in w.detach()])
result["rprop"] = steps
with open(os.path.join(OUT, "optimizers.json"), "w") as f:
    json.dump(result, f, indent=1)
print("optimizer fixtures written")

# A whole classifier as PyTorch would save it, and its logits: Folio must load the file
# and compute the same logits.
from safetensors.torch import save_file  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.manual_seed(7)


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(30, 6)
        self.lstm = torch.nn.LSTM(6, 5, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(5, 3)

    def forward(self, ids, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.fc(h[-1])


model = Classifier()
ids = torch.tensor([[3, 7, 1, 29, 4], [12, 5, 9, 0, 0]])
lengths = [5, 3]
with torch.no_grad():
    logits = model(ids, lengths)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(OUT, "classifier.safetensors"))
with open(os.path.join(OUT, "classifier.json"), "w") as f:
    json.dump({"ids": ids.reshape(-1).tolist(), "lengths": lengths, "logits": flat(logits)}, f)
print("classifier fixture written")

# Bidirectional LSTM: the reverse direction's weights are *_reverse in PyTorch.
torch.set_default_dtype(torch.float64)
batch, steps, inputs, units, lengths = 3, 6, 4, 5, [6, 4, 1]  # names reused above
bi = torch.nn.LSTM(inputs, units, batch_first=True, bidirectional=True)
with torch.no_grad():
    bi.bias_hh_l0.zero_()
    bi.bias_hh_l0_reverse.zero_()
xb = torch.randn(batch, steps, inputs)
bidirectional = {"input": flat(xb)}
for suffix, key in [("", "forward"), ("_reverse", "backward")]:
    bidirectional[key] = {"kernel": flat(getattr(bi, "weight_ih_l0" + suffix).t()),
                          "recurrent_kernel": flat(getattr(bi, "weight_hh_l0" + suffix).t()),
                          "bias": flat(getattr(bi, "bias_ih_l0" + suffix))}
for mode in ["sequences", "last"]:
    bi.zero_grad()
    x = xb.clone().requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = bi(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=steps)
    y = out if mode == "sequences" else torch.cat([h[0], h[1]], dim=1)
    weights = torch.randn(y.shape)
    (y * weights).sum().backward()
    bidirectional[mode] = {"output": flat(y), "output_gradient": flat(weights), "input_gradient": flat(x.grad),
                           "backward_kernel_gradient": flat(bi.weight_ih_l0_reverse.grad.t())}
with open(os.path.join(OUT, "bidirectional.json"), "w") as fh:
    json.dump(bidirectional, fh)

# Conv1D and MaxPooling1D: Folio's [batch, steps, channels] is torch's [batch, channels,
# steps] permuted; kernel [size, channels, filters] = weight.permute(2, 1, 0).
torch.set_default_dtype(torch.float64)
conv = {}
signal = torch.randn(2, 7, 3)
for padding in ["valid", "same"]:
    layer = torch.nn.Conv1d(3, 4, 3, padding=padding)
    x = signal.clone().requires_grad_(True)
    y = torch.nn.functional.max_pool1d(layer(x.permute(0, 2, 1)), 2).permute(0, 2, 1)
    weights = torch.randn(y.shape)
    (y * weights).sum().backward()
    conv[padding] = {"kernel": flat(layer.weight.permute(2, 1, 0)), "bias": flat(layer.bias), "output": flat(y),
                     "output_shape": list(y.shape), "output_gradient": flat(weights), "input_gradient": flat(x.grad),
                     "kernel_gradient": flat(layer.weight.grad.permute(2, 1, 0)), "bias_gradient": flat(layer.bias.grad)}
conv["input"] = flat(signal)
with open(os.path.join(OUT, "conv1d.json"), "w") as fh:
    json.dump(conv, fh)

# Metrics, from scikit-learn: a class never predicted (precision 0/0 -> 0) and one never
# present in the labels.
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, top_k_accuracy_score  # noqa: E402

actual = [0, 1, 2, 2, 1, 0, 0, 3, 1, 2, 2, 0]
predicted = [0, 2, 2, 2, 1, 0, 1, 1, 1, 0, 2, 0]
p, r, f, s = precision_recall_fscore_support(actual, predicted, labels=[0, 1, 2, 3, 4], zero_division=0)
scores = np.random.default_rng(3).normal(size=(12, 5))
with open(os.path.join(OUT, "metrics.json"), "w") as fh:
    json.dump({"actual": actual, "predicted": predicted, "classes": 5,
               "accuracy": accuracy_score(actual, predicted),
               "macro_f1": f1_score(actual, predicted, labels=[0, 1, 2, 3, 4], average="macro", zero_division=0),
               "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist(),
               "confusion": confusion_matrix(actual, predicted, labels=[0, 1, 2, 3, 4]).tolist(),
               "scores": scores.reshape(-1).tolist(),
               "top2": top_k_accuracy_score(actual, scores, k=2, labels=[0, 1, 2, 3, 4]),
               "top3": top_k_accuracy_score(actual, scores, k=3, labels=[0, 1, 2, 3, 4])}, fh)

# Losses, from PyTorch (float64): value and gradient with respect to the model's output.
torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(5)
logits = torch.randn(6, 4, generator=g)
onehot = torch.nn.functional.one_hot(torch.tensor([0, 3, 1, 1, 2, 0]), 4).double()
losses = {"logits": flat(logits), "onehot": flat(onehot)}
x = logits.clone().requires_grad_(True)
loss = torch.nn.functional.cross_entropy(x, onehot, label_smoothing=0.1)
loss.backward()
losses["categorical_smoothing"] = {"loss": loss.item(), "gradient": flat(x.grad)}
binary_logits = torch.randn(8, generator=g)
binary_targets = torch.tensor([1., 0., 1., 1., 0., 0., 1., 0.])
x = binary_logits.clone().requires_grad_(True)
loss = torch.nn.functional.binary_cross_entropy_with_logits(x, binary_targets)
loss.backward()
losses.update({"binary_logits": flat(binary_logits), "binary_targets": flat(binary_targets),
               "binary_from_logits": {"loss": loss.item(), "gradient": flat(x.grad)}})
probabilities = torch.sigmoid(binary_logits)
x = probabilities.clone().requires_grad_(True)
loss = torch.nn.functional.binary_cross_entropy(x, binary_targets)
loss.backward()
losses.update({"binary_probabilities": flat(probabilities), "binary_from_probabilities": {"loss": loss.item(), "gradient": flat(x.grad)}})
prediction = torch.randn(5, 3, generator=g)
target = torch.randn(5, 3, generator=g)
x = prediction.clone().requires_grad_(True)
loss = torch.nn.functional.mse_loss(x, target)
loss.backward()
losses.update({"mse_prediction": flat(prediction), "mse_target": flat(target), "mse": {"loss": loss.item(), "gradient": flat(x.grad)}})
with open(os.path.join(OUT, "losses.json"), "w") as fh:
    json.dump(losses, fh)
print("metric and loss fixtures written")

# BatchNormalization, by Keras itself (training step, then inference), with TF's gradients.
import tensorflow as tf  # noqa: E402

bn = keras.layers.BatchNormalization()
xbn = np.random.default_rng(11).normal(size=(6, 3)).astype(np.float32) * [1, 5, 0.1] + [0, 3, -1]
bn.build(xbn.shape)
bn.gamma.assign(np.array([1.5, 0.5, 2.0], dtype=np.float32))
bn.beta.assign(np.array([0.1, -0.2, 0.3], dtype=np.float32))
wbn = np.random.default_rng(12).normal(size=(6, 3)).astype(np.float32)
xt = tf.constant(xbn)
with tf.GradientTape() as tape:
    tape.watch(xt)
    ybn = bn(xt, training=True)
    lbn = tf.reduce_sum(ybn * wbn)
dx, dgamma, dbeta = tape.gradient(lbn, [xt, bn.gamma, bn.beta])
yinf = bn(xt, training=False)
with open(os.path.join(OUT, "batchnorm.json"), "w") as fh:
    json.dump({"input": xbn.reshape(-1).tolist(), "gamma": [1.5, 0.5, 2.0], "beta": [0.1, -0.2, 0.3],
               "output_gradient": wbn.reshape(-1).tolist(), "training_output": np.array(ybn).reshape(-1).tolist(),
               "input_gradient": np.array(dx).reshape(-1).tolist(), "gamma_gradient": np.array(dgamma).tolist(),
               "beta_gradient": np.array(dbeta).tolist(), "moving_mean": np.array(bn.moving_mean).tolist(),
               "moving_variance": np.array(bn.moving_variance).tolist(), "inference_output": np.array(yinf).reshape(-1).tolist()}, fh)
print("batchnorm fixture written")

# Wider than one group of eight units (11 = 8 + 3) and two rows per lane: the vectorized
# gate loops' full and partial groups (last, so the fixtures above keep their values).
lstm_fixture("lstm_wide", batch=4, steps=7, inputs=3, units=11, lengths=[7, 3, 5, 7])
gru_fixture("gru_wide", units=11, lengths=[7, 3, 5, 7], batch=4, steps=7, inputs=3)
