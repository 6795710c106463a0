#!/usr/bin/env python3
"""Bulk prediction peers for bench/predict_bench.sh: the same model as a Folio bundle, in
PyTorch (batched, torch.no_grad) or Keras (model.predict), or fastText's own bag model
(trained here on the same training texts, untimed). Prints one JSON line.

Timed: reading the JSONL corpus, tokenizing (lowercase, \\w+ words: close to Folio's ICU
segmentation on these corpora, not identical), looking ids up in the bundle's
vocabulary.tsv, batching (padded to the batch's longest, truncated to max_length), the
forward pass, and writing one JSON line per document (label, probability, top 3), as
`folio predict --out` does. Not timed: building the model and loading the weights.

LSTM bundles (Embedding -> [Dropout] -> LSTM... -> GlobalMaxPooling1D -> Dense) load
Folio's weights (gates i, f, g, o, as PyTorch's; Keras's i, f, c, o is the same order).
Bag bundles (Embedding over ids + hashed bigrams, TF-IDF weights, sqrtn pooling -> Dense)
load them in PyTorch (EmbeddingBag with per-sample weights); fastText trains its own
bag (wordNgrams 2, the bundle's bucket count and dimension).
"""
import argparse
import json
import os
import re
import resource
import struct
import sys
import time

import numpy as np

WORD = re.compile(r"\w+")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(info["shape"]).copy()
    return out


def load_bundle(folder):
    bundle = json.load(open(os.path.join(folder, "model.json")))
    vocabulary = {}
    with open(os.path.join(folder, "vocabulary.tsv"), encoding="utf-8") as f:
        for index, line in enumerate(f):
            vocabulary[line.split("\t", 1)[0]] = index
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    idf_path = os.path.join(folder, "tfidf.safetensors")
    idf = read_safetensors(idf_path)["idf"] if os.path.exists(idf_path) else None
    return bundle, vocabulary, weights, idf


def documents(path, limit):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if limit and number > limit:
                return
            record = json.loads(line)
            yield record.get("id", "%s:%d" % (path, number)), record["text"]


def encode(text, vocabulary, max_length):
    return [vocabulary.get(word, 1) for word in WORD.findall(text.lower())][:max_length]


def bigram_ids(ids, vocabulary_size, buckets):
    mask = (1 << 64) - 1
    return [vocabulary_size + ((a * 116049371 + b) & mask) % buckets for a, b in zip(ids, ids[1:])]


class TorchLSTM:
    def __init__(self, bundle, weights, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch = torch
        layers = bundle["layers"]
        self.embedding = torch.nn.Embedding.from_pretrained(torch.from_numpy(weights["layers.0.weight"]), padding_idx=0)
        self.lstms = []
        for index, layer in enumerate(layers):
            if "lstm" in layer:
                kernel = weights["layers.%d.kernel" % index]
                lstm = torch.nn.LSTM(kernel.shape[0], layer["lstm"]["units"], batch_first=True)
                with torch.no_grad():
                    lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
                    lstm.weight_hh_l0.copy_(torch.from_numpy(weights["layers.%d.recurrent_kernel" % index].T.copy()))
                    lstm.bias_ih_l0.copy_(torch.from_numpy(weights["layers.%d.bias" % index]))
                    lstm.bias_hh_l0.zero_()
                self.lstms.append(lstm)
            if "dense" in layer:
                kernel = weights["layers.%d.kernel" % index]
                self.dense = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
                with torch.no_grad():
                    self.dense.weight.copy_(torch.from_numpy(kernel.T.copy()))
                    self.dense.bias.copy_(torch.from_numpy(weights["layers.%d.bias" % index]))

    def predict(self, rows):
        torch = self.torch
        lengths = torch.tensor([max(1, len(r)) for r in rows])
        length = int(lengths.max())
        ids = torch.zeros(len(rows), length, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        with torch.no_grad():
            x = self.embedding(ids)
            for lstm in self.lstms:
                packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                x, _ = torch.nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=length)
            mask = torch.arange(length)[None, :] < lengths[:, None]
            x = x.masked_fill(~mask[:, :, None], float("-inf")).max(dim=1).values
            return torch.softmax(self.dense(x), dim=1).numpy()


class TorchBag:
    def __init__(self, bundle, weights, idf, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch = torch
        self.vocabulary_size = bundle["ngrams"]["vocabularySize"]
        self.buckets = bundle["ngrams"]["buckets"]
        self.idf = idf
        self.bag = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(weights["layers.0.weight"]), mode="sum")
        dense = [k for k in weights if k.endswith(".kernel")][0]
        kernel = weights[dense]
        self.dense = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
        with torch.no_grad():
            self.dense.weight.copy_(torch.from_numpy(kernel.T.copy()))
            self.dense.bias.copy_(torch.from_numpy(weights[dense.replace("kernel", "bias")]))

    def predict(self, rows):
        torch = self.torch
        flat, offsets, per_sample = [], [], []
        for r in rows:
            ids = r + bigram_ids(r, self.vocabulary_size, self.buckets)
            counts = {}
            for i in ids:
                counts[i] = counts.get(i, 0) + 1
            keys = list(counts)
            w = np.array([counts[k] for k in keys], dtype=np.float32)
            if self.idf is not None:
                w *= self.idf[keys]
            norm = float(np.sqrt((w * w).sum())) or 1.0
            offsets.append(len(flat))
            flat.extend(keys)
            per_sample.extend((w / norm).tolist())
        with torch.no_grad():
            x = self.bag(torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long),
                         per_sample_weights=torch.tensor(per_sample))
            return torch.softmax(self.dense(x), dim=1).numpy()


class KerasLSTM:
    def __init__(self, bundle, weights, threads):
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
        import keras
        layers = bundle["layers"]
        inputs = keras.Input(shape=(None,), dtype="int32")
        embedding = keras.layers.Embedding(weights["layers.0.weight"].shape[0], weights["layers.0.weight"].shape[1], mask_zero=True)
        x = embedding(inputs)
        assign = [(embedding, [weights["layers.0.weight"]])]
        for index, layer in enumerate(layers):
            if "lstm" in layer:
                lstm = keras.layers.LSTM(layer["lstm"]["units"], return_sequences=layer["lstm"]["returnSequences"])
                x = lstm(x)
                assign.append((lstm, [weights["layers.%d.kernel" % index], weights["layers.%d.recurrent_kernel" % index],
                                      weights["layers.%d.bias" % index]]))
            if "globalMaxPooling1D" in layer:
                x = keras.layers.GlobalMaxPooling1D()(x)
            if "dense" in layer:
                dense = keras.layers.Dense(weights["layers.%d.kernel" % index].shape[1], activation="softmax")
                x = dense(x)
                assign.append((dense, [weights["layers.%d.kernel" % index], weights["layers.%d.bias" % index]]))
        self.model = keras.Model(inputs, x)
        for layer, values in assign:
            layer.set_weights(values)

    def predict(self, rows):
        length = max(1, max(len(r) for r in rows))
        ids = np.zeros((len(rows), length), dtype=np.int32)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
        return self.model.predict(ids, batch_size=len(rows), verbose=0)


def write_lines(out, ids, probabilities, labels):
    for doc_id, p in zip(ids, probabilities):
        top = np.argsort(-p)[:3]
        out.write(json.dumps({"id": doc_id, "label": labels[top[0]], "probability": float(p[top[0]]),
                              "top": [{"label": labels[t], "probability": float(p[t])} for t in top]}) + "\n")


def run_fasttext(a, bundle):
    import fasttext
    train = os.path.join(a.work, "fasttext-train.txt")
    with open(train, "w", encoding="utf-8") as f:
        for _, text_label in zip(range(a.train_limit), labelled(a.train)):
            text, label = text_label
            f.write("__label__%s %s\n" % (label, " ".join(WORD.findall(text.lower()))))
    model = fasttext.train_supervised(train, dim=a.dim, wordNgrams=2, bucket=bundle["ngrams"]["buckets"] if bundle.get("ngrams") else 200000,
                                      epoch=a.epochs, lr=0.5, thread=a.threads, verbose=0)
    return run_batches(a, lambda text: " ".join(WORD.findall(text.lower())),
                       lambda out, ids, texts: fasttext_batch(model, out, ids, texts))


def run_batches(a, prepare, write_batch):
    """The timed loop every peer shares: read, prepare each text, predict and write in batches."""
    started = time.perf_counter()
    count = 0
    with open(a.out, "w", encoding="utf-8") as out:
        ids, items = [], []
        for doc_id, text in documents(a.corpus, a.limit):
            ids.append(doc_id)
            items.append(prepare(text))
            if len(items) == a.batch:
                write_batch(out, ids, items)
                count += len(items)
                ids, items = [], []
        if items:
            write_batch(out, ids, items)
            count += len(items)
    return count, time.perf_counter() - started


def fasttext_batch(model, out, ids, texts):
    labels, probabilities = model.predict(texts, k=3)
    for doc_id, l, p in zip(ids, labels, probabilities):
        out.write(json.dumps({"id": doc_id, "label": l[0][9:], "probability": float(p[0]),
                              "top": [{"label": a[9:], "probability": float(b)} for a, b in zip(l, p)]}) + "\n")
    return len(ids)


def labelled(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.get("split", "train") == "train":
                yield record["text"], record["label"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", choices=["torch", "keras", "fasttext"], required=True)
    parser.add_argument("--model", required=True, help="a Folio model folder")
    parser.add_argument("--corpus", required=True, help="JSONL with text (and id)")
    parser.add_argument("--out", default="/tmp/peer-predictions.jsonl")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--train", help="fastText: JSONL training texts with labels")
    parser.add_argument("--train-limit", type=int, default=10**9)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--work", default="/tmp")
    a = parser.parse_args()
    bundle, vocabulary, weights, idf = load_bundle(a.model)
    if a.framework == "fasttext":
        count, seconds = run_fasttext(a, bundle)
    else:
        is_bag = bundle.get("ngrams") is not None or any("globalSqrtNPooling1D" in l or "globalAveragePooling1D" in l for l in bundle["layers"])
        if a.framework == "torch":
            model = TorchBag(bundle, weights, idf, a.threads) if is_bag else TorchLSTM(bundle, weights, a.threads)
        else:
            if is_bag:
                sys.exit("keras: the bag model is measured with PyTorch and fastText only")
            model = KerasLSTM(bundle, weights, a.threads)
        count, seconds = run_batches(a, lambda text: encode(text, vocabulary, bundle["maxLength"]),
                                     lambda out, ids, rows: write_lines(out, ids, model.predict(rows), bundle["labels"]))
    print(json.dumps({"framework": a.framework, "documents": count, "seconds": round(seconds, 3),
                      "documents_per_second": round(count / seconds, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
                      "batch": a.batch, "threads": a.threads}))


if __name__ == "__main__":
    main()
