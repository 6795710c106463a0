#!/usr/bin/env python3
"""TF-IDF + logistic regression on a label-per-folder corpus with train/ and test/ splits:
the baseline the Folio pipelines are compared with (scikit-learn, as the peers' fasttext_bench
configures it: TfidfVectorizer(max_features=20000, sublinear_tf=True), LogisticRegression(C=4)).

  $PEERS_VENV/bin/python bench/tfidf_baseline.py corpora/debian-packages
"""
import json
import os
import sys

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score


def read(root):
    texts, labels = [], []
    for label in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, label))):
            with open(os.path.join(root, label, name), encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
            labels.append(label)
    return texts, labels


def main():
    corpus = sys.argv[1]
    train_texts, train_labels = read(os.path.join(corpus, "train"))
    test_texts, test_labels = read(os.path.join(corpus, "test"))
    vectorizer = TfidfVectorizer(max_features=20000, sublinear_tf=True)
    model = LogisticRegression(C=4, max_iter=2000).fit(vectorizer.fit_transform(train_texts), train_labels)
    predicted = model.predict(vectorizer.transform(test_texts))
    print(json.dumps({"model": "tfidf+logreg", "accuracy": accuracy_score(test_labels, predicted),
                      "macro_f1": f1_score(test_labels, predicted, average="macro"), "test_examples": len(test_labels)}))


if __name__ == "__main__":
    main()
