#!/usr/bin/env python3
"""The peer of folio-serve in bench/serve_bench.sh: the same Folio bundle in PyTorch
(predict_peer.py's models, one compute thread per worker) behind Flask, run under
gunicorn (`gunicorn -w 2 serve_peer:app`, PEER_MODEL=<model folder>). Same route and body:
POST /v1/predict {"texts": [...], "top_k": 3} -> {"predictions": [{label, probability, top}]}.
"""
import os
import sys

import numpy as np
from flask import Flask, jsonify, request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from predict_peer import TorchBag, TorchLSTM, encode, load_bundle  # noqa: E402

bundle, vocabulary, weights, idf = load_bundle(os.environ["PEER_MODEL"])
is_bag = bundle.get("ngrams") is not None
model = TorchBag(bundle, weights, idf, 1) if is_bag else TorchLSTM(bundle, weights, 1)
labels = bundle["labels"]
app = Flask(__name__)


@app.post("/v1/predict")
def predict():
    body = request.get_json()
    texts = body["texts"]
    k = int(body.get("top_k", 3))
    probabilities = model.predict([encode(t, vocabulary, bundle["maxLength"]) for t in texts])
    predictions = []
    for p in probabilities:
        top = np.argsort(-p)[:k]
        predictions.append({"label": labels[top[0]], "probability": float(p[top[0]]),
                            "top": [{"label": labels[t], "probability": float(p[t])} for t in top]})
    return jsonify(predictions=predictions)
