"""Time segment_themes on 100k texts with a realistic (Zipfian, ~30k word) vocabulary,
against a plain sklearn baseline in the same process: TfidfVectorizer(1-2 grams, English stop
words) + NMF(10) fitted on all texts.
    python benchmarks/themes.py [N_TEXTS]
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from copilot.segmentation.analysis.themes import segment_themes

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
rng = np.random.default_rng(0)
letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
words = np.array(["".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(30_000)])
p = 1.0 / np.arange(1, len(words) + 1) ** 1.05
p /= p.sum()
labels = rng.integers(0, 6, N)
planted = [words[rng.choice(np.arange(2000, 6000), 5, replace=False)] for _ in range(6)]
lens = rng.integers(5, 40, N)
texts = []
for i in range(N):
    w = list(rng.choice(words, lens[i], p=p))
    if rng.random() < 0.5:
        w.insert(int(rng.integers(len(w))), str(rng.choice(planted[labels[i]])))
    texts.append(" ".join(w))
texts = pd.Series(texts, name="feedback")
print(f"{N} texts, mean {lens.mean():.0f} words")

t0 = time.perf_counter()
report = segment_themes(texts, labels)
t_engine = time.perf_counter() - t0
print(f"segment_themes: {t_engine:.2f} s (vocabulary {report.vocabulary_size}, fitted on "
      f"{report.fitted_on}, {len(report.topics)} topics)")
hits = sum(bool({t.term for t in s.terms[:5]} & set(planted[s.segment])) for s in report.segments)
print(f"segments whose top 5 terms include a planted word: {hits}/6")

from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer

warnings.simplefilter("ignore")
t0 = time.perf_counter()
X = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", min_df=report.min_doc_count,
                    max_features=20_000, dtype=np.float32).fit_transform(texts)
NMF(10, init="nndsvda", random_state=0, max_iter=400).fit_transform(X)
t_base = time.perf_counter() - t0
print(f"baseline (tf-idf + NMF on all texts): {t_base:.2f} s; ratio engine/baseline {t_engine / t_base:.2f}")
