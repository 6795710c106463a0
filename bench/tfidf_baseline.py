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
    texts, labels, _ = read_with_groups(root)
    return texts, labels


def read_with_groups(root):
    """Each file below a label folder, recursively (as Folio reads the folder), with its
    group: the folders between the label folder and the file, None for a file directly in
    it (Folio's `validation_by = "group"`)."""
    texts, labels, groups = [], [], []
    for label in sorted(os.listdir(root)):
        def walk(folder, group):
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                if os.path.isdir(path):
                    walk(path, name if group is None else f"{group}/{name}")
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    texts.append(f.read())
                labels.append(label)
                groups.append((group, path))
        walk(os.path.join(root, label), None)
    return texts, labels, groups


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
