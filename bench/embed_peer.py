#!/usr/bin/env python3
"""Trains word vectors with a peer on a text file (one document per line, tokens separated
by spaces: `folio inspect SHARDS --tokens` writes it, so every tool sees Folio's tokens) and
writes word2vec's text format. Prints one JSON line: the training seconds and words/s.

    embed_peer.py gensim|fasttext TOKENS.txt OUT.vec --model skipgram|cbow --dim 100 --window 5
        --negative 5 --min-count 5 --subsample 1e-4 --epochs 5 --threads 2

gensim: Word2Vec over `corpus_file` (its fastest mode: workers read the file themselves,
without the GIL); its vocabulary scan is timed apart. fastText: `train_unsupervised`
without subword n-grams (minn = maxn = 0, so it is word2vec), learning rate word2vec's;
its time includes its own vocabulary pass over the file.
"""
import argparse
import json
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=["gensim", "fasttext"])
    parser.add_argument("tokens")
    parser.add_argument("out")
    parser.add_argument("--model", default="skipgram", choices=["skipgram", "cbow"])
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--subsample", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rate = 0.025 if args.model == "skipgram" else 0.05
    words = 0
    with open(args.tokens, encoding="utf-8") as f:
        for line in f:
            words += line.count(" ") + 1 if line.strip() else 0
    if args.tool == "gensim":
        from gensim.models import Word2Vec
        model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negative, min_count=args.min_count,
                         sample=args.subsample, sg=1 if args.model == "skipgram" else 0, workers=args.threads,
                         alpha=rate, min_alpha=rate * 1e-4, seed=args.seed, hs=0)
        start = time.perf_counter()
        model.build_vocab(corpus_file=args.tokens)
        vocab_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model.train(corpus_file=args.tokens, total_words=model.corpus_total_words, total_examples=model.corpus_count, epochs=args.epochs)
        seconds = time.perf_counter() - start
        model.wv.save_word2vec_format(args.out)
        count = len(model.wv)
        extra = {"vocabulary_seconds": round(vocab_seconds, 2)}
    else:
        import fasttext
        start = time.perf_counter()
        model = fasttext.train_unsupervised(args.tokens, model=args.model, dim=args.dim, ws=args.window, neg=args.negative,
                                            minCount=args.min_count, t=args.subsample, epoch=args.epochs, thread=args.threads,
                                            lr=rate, minn=0, maxn=0, verbose=0)
        seconds = time.perf_counter() - start
        words_list = model.get_words()
        with open(args.out, "w", encoding="utf-8") as sink:
            sink.write(f"{len(words_list)} {args.dim}\n")
            for word in words_list:
                sink.write(word + " " + " ".join(f"{v:.6g}" for v in model.get_word_vector(word)) + "\n")
        count = len(words_list)
        extra = {}
    print(json.dumps({"tool": args.tool, "model": args.model, "seconds": round(seconds, 3), "words_read": words * args.epochs,
                      "words_per_second": round(words * args.epochs / seconds), "vectors": count, **extra}))


if __name__ == "__main__":
    main()
