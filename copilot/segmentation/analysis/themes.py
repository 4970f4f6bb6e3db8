"""Themes in free text per segment: the words and phrases that set each segment's texts apart.

A free-text column (reviews, support tickets, NPS comments) is not a clustering feature, but it
says *why* a segment behaves as it does. ``segment_themes`` computes, locally and
deterministically:

- **Distinguishing terms** per segment: unigrams and bigrams (English stop words removed) that
  a segment's texts mention more often than the other segments' texts. Each (segment, term) pair
  is a 2x2 table (texts of the segment / of the rest, mentioning the term or not); the score is
  the z of its log odds ratio, one-sided p-values are corrected for the number of pairs tested
  (Benjamini-Hochberg), and a term is listed only when it is significant, mentioned by at least
  ``MIN_TERM_TEXTS`` texts of the segment and at least ``MIN_TERM_RATIO`` times as common there
  as in the rest. Rare typos cannot win: a term must occur in ``min_doc_count`` texts to be in
  the vocabulary at all, and a handful of mentions gives a large standard error.
- **Topics** over the whole corpus: NMF on TF-IDF, the top words of each topic, and each
  segment's topic shares against the overall shares.
- How many texts were empty (missing, blank, punctuation or a placeholder such as "n/a").

For speed the vocabulary and the topics are fitted on a seeded sample of at most
``FIT_SAMPLE`` non-empty texts; the rest are only transformed. When there are too few texts the
report is skipped with a reason, never an error.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy import sparse, stats

from copilot.core import Frozen
from copilot.segmentation.analysis.parallel import quiet_warnings
from copilot.segmentation.analysis.profile import _check_labels
from copilot.segmentation.analysis.roles import RoleReport, infer_roles

#: Fewer non-empty texts than this and no term count per segment can say anything: skip.
MIN_TEXTS = 30
#: A segment with fewer non-empty texts than this gets no terms (its note says why).
MIN_SEGMENT_TEXTS = 5
#: The vocabulary and the topics are fitted on at most this many texts (seeded sample); the
#: rest are transformed only. 30k texts give every term above ~0.1% frequency dozens of
#: mentions, and keep the fit under a few seconds.
FIT_SAMPLE = 30_000
#: At most this many terms (the most frequent) are kept, to bound memory on large corpora.
MAX_VOCABULARY = 20_000
#: A term must appear in at least this many texts of the fit sample to enter the vocabulary ...
MIN_DOC_COUNT = 3
#: ... and in at least this share of them on large samples (0.1%: 30 texts of 30,000).
MIN_DOC_SHARE = 0.001
#: A listed term is mentioned by at least this many texts of its segment.
MIN_TERM_TEXTS = 3
#: ... at least this many times as often as in the rest (the same bar as an over-represented
#: categorical level in ``profile.py``), so that huge samples do not list trivial differences.
MIN_TERM_RATIO = 1.5
#: False-discovery rate for the (segment, term) tests.
FDR = 0.05
#: A unigram is left out when a listed bigram containing it accounts for this share of its
#: mentions in the segment ("late delivery" makes "late" and "delivery" redundant).
REDUNDANT_SHARE = 0.6
#: Topics: ceil(sqrt(fitted texts) / TOPIC_ROOT_DIVISOR) between these bounds (2 for 100
#: texts, 4 for 400, 10 from 2,500 on). More texts support finer topics; NMF topics beyond ~10
#: are rarely distinct on short feedback, and a memo cannot show more.
MIN_TOPICS, MAX_TOPICS = 2, 10
TOPIC_ROOT_DIVISOR = 5
TOPIC_WORDS = 6
#: What is left of "don't", "isn't", "I've" once the apostrophe splits them: not themes.
CONTRACTION_STEMS = frozenset({
    "don", "doesn", "didn", "isn", "wasn", "aren", "weren", "won", "wouldn", "couldn",
    "shouldn", "haven", "hasn", "hadn", "ve", "ll", "re", "im", "ive", "dont", "cant",
})
_SENTENCE_END = r"[.!?;\n\r]"
#: Whole answers that say nothing, lowercased; counted as empty.
PLACEHOLDERS = frozenset({
    "n/a", "na", "n.a.", "none", "nil", "null", "nan", "no", "nothing", "no comment",
    "no comments", "-", "--", ".", "?", "x",
})
#: Words of at least two letters (no digits): numbers and IDs are not themes.
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
#: detect_text_columns: free text has at least this many words per non-empty value on average
#: (shorter values are names, codes or labels) ...
MIN_TEXT_WORDS = 3.0
#: ... and most of its tokens are words (addresses, URLs and JSON are mostly not).
MIN_WORD_SHARE = 0.6
_TEXT_SAMPLE = 2000


class ThemeTerm(Frozen):
    """A term that a segment's texts mention more often than the rest's."""

    term: str
    n_texts: int  # texts of the segment that mention it
    segment_share: float  # share of the segment's non-empty texts that mention it
    rest_share: float  # share of the other non-empty texts that mention it
    overall_share: float  # share of all non-empty texts that mention it
    lift: float  # segment_share / overall_share
    z: float  # z of the log odds ratio, segment vs rest


class Topic(Frozen):
    """An NMF topic over the whole corpus."""

    topic: int
    words: tuple[str, ...]
    share: float  # mean share of a text's topic weight on this topic, over all texts


class TopicShare(Frozen):
    topic: int
    segment_share: float  # mean topic share over the segment's texts
    overall_share: float
    lift: float | None  # segment_share / overall_share; None when the topic is unused


class SegmentThemes(Frozen):
    """Themes of one segment (``segment == -1``: the unassigned rows)."""

    segment: int
    n_rows: int
    n_texts: int  # non-empty texts
    n_empty: int
    terms: tuple[ThemeTerm, ...]  # best first
    topics: tuple[TopicShare, ...]  # in topic order
    note: str | None  # why there are no terms, when there are none


class ThemeReport(Frozen):
    """Themes of a free-text column across segments."""

    column: str | None
    n_rows: int
    n_texts: int  # non-empty texts
    n_empty: int  # missing, blank, punctuation-only or placeholder texts
    skipped: bool
    reason: str | None  # why it was skipped
    fitted_on: int  # texts in the sample the vocabulary and topics were fitted on
    vocabulary_size: int
    min_doc_count: int  # texts a term needs in the fit sample to be in the vocabulary
    topics: tuple[Topic, ...]
    segments: tuple[SegmentThemes, ...]  # label order, unassigned last


# --------------------------------------------------------------------------------------------
# Finding text columns
# --------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"^[^\W\d_][^\W\d_'-]*[.,!?;:]?$")


def empty_texts(texts: pd.Series) -> np.ndarray:
    """True where a text says nothing: missing, blank, punctuation only, or a placeholder."""
    s = texts.astype("string").str.strip().str.lower()
    empty = s.isna() | ~s.str.contains(r"\w", regex=True) | s.isin(PLACEHOLDERS)
    return empty.fillna(True).to_numpy(dtype=bool)


def detect_text_columns(df: pd.DataFrame, roles: RoleReport | None = None) -> tuple[str, ...]:
    """Columns that hold free text worth mining for themes, in table order.

    A column qualifies when its role is ``text``, it has at least ``MIN_TEXTS`` non-empty
    values, they average at least ``MIN_TEXT_WORDS`` words, and at least ``MIN_WORD_SHARE``
    of their tokens are words (so addresses, URLs, codes and JSON blobs are left out).

    Examples
    --------
    >>> words = ["slow", "late", "rude", "kind", "fast", "odd", "calm", "warm"]
    >>> comments = [f"the {a} agent was {b} today" for a in words for b in words]
    >>> df = pd.DataFrame({"comment": comments, "code": [f"X{i}" for i in range(64)]})
    >>> detect_text_columns(df)
    ('comment',)
    """
    roles = roles or infer_roles(df, outcomes=[])
    out = []
    for c in roles.columns:
        if c.role != "text" or c.name not in df.columns:
            continue
        s = df[c.name]
        filled = s[~empty_texts(s)]
        if len(filled) < MIN_TEXTS:
            continue
        if len(filled) > _TEXT_SAMPLE:
            filled = filled.iloc[:: len(filled) // _TEXT_SAMPLE]
        tokens = filled.astype(str).str.split()
        mean_words = float(tokens.str.len().mean())
        flat = [t for row in tokens for t in row]
        word_share = sum(bool(_WORD_RE.match(t)) for t in flat) / max(len(flat), 1)
        if mean_words >= MIN_TEXT_WORDS and word_share >= MIN_WORD_SHARE:
            out.append(c.name)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Themes
# --------------------------------------------------------------------------------------------


def segment_themes(
    texts: pd.Series,
    labels: np.ndarray,
    *,
    max_terms: int = 8,
    n_topics: int | None = None,
    seed: int = 0,
) -> ThemeReport:
    """Terms and topics that distinguish each segment's free text.

    Parameters
    ----------
    texts : pandas.Series
        One text per row (missing allowed), aligned with ``labels``.
    labels : numpy.ndarray
        One integer per row: segments ``0..k-1`` and ``-1`` for unassigned rows.
    max_terms : int, default 8
        At most this many terms per segment.
    n_topics : int, optional
        NMF topics (at least 2); default ``ceil(sqrt(fitted texts) / 5)`` between 2 and 10.
    seed : int, default 0
        Seeds the fit sample and NMF.

    Returns
    -------
    ThemeReport
        ``skipped`` with a ``reason`` when there are fewer than ``MIN_TEXTS`` non-empty texts,
        fewer than two groups of rows, or no term recurs; otherwise one ``SegmentThemes`` per
        segment (unassigned last) with its terms, best first, and topic shares.

    Examples
    --------
    >>> texts = pd.Series(["late delivery again"] * 20 + ["price too high"] * 20)
    >>> report = segment_themes(texts, np.array([0] * 20 + [1] * 20))
    >>> [t.term for t in report.segments[0].terms][:1]
    ['late delivery']
    """
    _check_theme_settings(max_terms, n_topics)
    labels = _check_labels(texts.to_frame(), labels)
    column = None if texts.name is None else str(texts.name)
    empty = empty_texts(texts)
    groups, inv = np.unique(labels, return_inverse=True)
    inv = inv.reshape(-1)
    n_rows, n_texts = len(labels), int((~empty).sum())

    def skipped(reason: str, **kw) -> ThemeReport:
        return ThemeReport(
            column=column, n_rows=n_rows, n_texts=n_texts, n_empty=n_rows - n_texts,
            skipped=True, reason=reason, fitted_on=0, vocabulary_size=0,
            min_doc_count=kw.get("min_doc_count", 0), topics=(), segments=(),
        )

    what = f"'{column}'" if column else "the text column"
    if n_texts < MIN_TEXTS:
        return skipped(f"Only {n_texts} of {n_rows} texts in {what} are non-empty; themes "
                       f"need at least {MIN_TEXTS}.")
    if len(groups) < 2:
        return skipped("There is only one segment, so no term can set one apart.")

    filled = np.flatnonzero(~empty)
    docs = texts.iloc[filled].astype(str).to_numpy()
    fit_pos = _fit_sample(len(docs), seed)
    min_df = max(MIN_DOC_COUNT, math.ceil(MIN_DOC_SHARE * len(fit_pos)))
    try:
        vectorizer, X = _vectorize(docs, fit_pos, min_df)
    except ValueError:  # sklearn: empty vocabulary after stop words and min_df
        return skipped(f"No word in {what} appears in at least {min_df} texts, so there are "
                       "no recurring terms to report.", min_doc_count=min_df)
    vocab = vectorizer.get_feature_names_out()

    n_group, terms, topics, topic_shares = _terms_and_topics(
        X, fit_pos, vocab, inv[filled], len(groups), max_terms, n_topics, seed)
    segments = _segment_reports(groups, inv, n_group, terms, topic_shares)
    return ThemeReport(
        column=column, n_rows=n_rows, n_texts=n_texts, n_empty=n_rows - n_texts,
        skipped=False, reason=None, fitted_on=len(fit_pos), vocabulary_size=len(vocab),
        min_doc_count=min_df, topics=topics, segments=tuple(segments),
    )


def _check_theme_settings(max_terms: int, n_topics: int | None) -> None:
    """Refuse fewer than one term or fewer than ``MIN_TOPICS`` topics."""
    if max_terms < 1:
        raise ValueError(f"max_terms must be at least 1, got {max_terms}")
    if n_topics is not None and n_topics < MIN_TOPICS:
        raise ValueError(f"n_topics must be at least {MIN_TOPICS}, got {n_topics}")


def _terms_and_topics(X, fit_pos, vocab, group_of_doc, n_groups, max_terms, n_topics, seed):
    """The terms that set each group's texts apart and the topics of all texts, with each
    group's share of them: (non-empty texts per group, terms, topics, topic shares)."""
    counts, n_group = _mention_counts(X, group_of_doc, n_groups)
    terms = _distinguishing_terms(counts, n_group, vocab, max_terms)

    k = n_topics or min(MAX_TOPICS, max(MIN_TOPICS,
                                        math.ceil(math.sqrt(len(fit_pos)) / TOPIC_ROOT_DIVISOR)))
    topics, weights = _topics(X, fit_pos, vocab, k, seed)
    topic_shares = _topic_shares(weights, group_of_doc, n_groups)
    return n_group, terms, topics, topic_shares


def _segment_reports(groups, inv, n_group, terms, topic_shares) -> list[SegmentThemes]:
    """One ``SegmentThemes`` per segment (unassigned last), with a note when a segment has
    too few texts or no distinguishing term."""
    rows_per_group = np.bincount(inv, minlength=len(groups))
    order = [g for g in range(len(groups)) if groups[g] >= 0] + [
        g for g in range(len(groups)) if groups[g] < 0
    ]
    segments = []
    for g in order:
        note = None
        if n_group[g] < MIN_SEGMENT_TEXTS:
            note = (f"Only {n_group[g]} non-empty texts, fewer than {MIN_SEGMENT_TEXTS}, "
                    "so no term is tested.")
        elif not terms[g]:
            note = "No term is clearly more common here than in the other segments."
        segments.append(SegmentThemes(
            segment=int(groups[g]), n_rows=int(rows_per_group[g]), n_texts=int(n_group[g]),
            n_empty=int(rows_per_group[g] - n_group[g]), terms=terms[g],
            topics=topic_shares[g], note=note,
        ))
    return segments


def _fit_sample(n: int, seed: int) -> np.ndarray:
    if n <= FIT_SAMPLE:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, FIT_SAMPLE, replace=False))


def _vectorize(docs: np.ndarray, fit_pos: np.ndarray, min_df: int):
    """Fit TF-IDF on the sample, transform the rest; rows in the order of ``docs``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        analyzer=_analyzer(), min_df=min_df, max_features=MAX_VOCABULARY, sublinear_tf=True,
        dtype=np.float32,
    )
    X_fit = vectorizer.fit_transform(docs[fit_pos])
    if len(fit_pos) == len(docs):
        return vectorizer, X_fit.tocsr()
    rest = np.setdiff1d(np.arange(len(docs)), fit_pos, assume_unique=True)
    X_rest = vectorizer.transform(docs[rest])
    order = np.argsort(np.concatenate([fit_pos, rest]), kind="stable")
    return vectorizer, sparse.vstack([X_fit, X_rest]).tocsr()[order]


def _analyzer():
    """Unigrams and bigrams without stop words, with no bigram across a sentence boundary.

    sklearn's own analyzer joins the last word of one sentence to the first of the next
    ("...colleagues. Recommend it..." gives "colleagues recommend"), which fills short
    multi-sentence feedback with phrases nobody wrote. As in sklearn, a bigram may span a
    removed stop word ("delay of a week" gives "delay week").
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, strip_accents_unicode

    stop = ENGLISH_STOP_WORDS | CONTRACTION_STEMS
    tokens = re.compile(f"{TOKEN_PATTERN}|{_SENTENCE_END}")

    def analyze(doc: str) -> list[str]:
        doc = doc.lower()
        if not doc.isascii():
            doc = strip_accents_unicode(doc)
        out: list[str] = []
        prev = ""
        for tok in tokens.findall(doc):
            if tok in stop:
                continue
            if not tok[0].isalpha():  # end of a sentence
                prev = ""
                continue
            out.append(tok)
            if prev:
                out.append(f"{prev} {tok}")
            prev = tok
        return out

    return analyze


def _mention_counts(X, group_of_doc: np.ndarray, n_groups: int):
    """Texts mentioning each term per group (groups x terms) and texts per group."""
    present = X.copy()
    present.data = np.ones_like(present.data)
    onehot = sparse.csr_matrix(
        (np.ones(len(group_of_doc), dtype=np.float32), (group_of_doc, np.arange(len(group_of_doc)))),
        shape=(n_groups, len(group_of_doc)),
    )
    counts = np.asarray((onehot @ present).todense(), dtype=np.float64)
    return counts, np.bincount(group_of_doc, minlength=n_groups)


def _distinguishing_terms(
    counts: np.ndarray, n_group: np.ndarray, vocab: np.ndarray, max_terms: int,
) -> list[tuple[ThemeTerm, ...]]:
    n_total = float(n_group.sum())
    totals = counts.sum(axis=0)
    a = counts
    b = n_group[:, None] - a
    c = totals[None, :] - a
    d = (n_total - n_group)[:, None] - c
    # Haldane's +0.5 keeps the log odds finite for terms absent on one side.
    a5, b5, c5, d5 = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    z = np.log(a5 * d5 / (b5 * c5)) / np.sqrt(1 / a5 + 1 / b5 + 1 / c5 + 1 / d5)
    tested = n_group >= MIN_SEGMENT_TEXTS
    p = np.ones_like(z)
    p[tested] = stats.norm.sf(z[tested])
    q = np.ones_like(z)
    if tested.any():
        q[tested] = stats.false_discovery_control(p[tested].ravel(), method="bh").reshape(
            p[tested].shape
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        seg_share = a / n_group[:, None]
        rest_share = c / (n_total - n_group)[:, None]
    overall = totals / n_total
    ok = (
        tested[:, None] & (q <= FDR) & (a >= MIN_TERM_TEXTS)
        & (seg_share >= MIN_TERM_RATIO * rest_share)
    )
    out = []
    for g in range(len(n_group)):
        cand = np.flatnonzero(ok[g])
        # Best z first; ties by term so the order never depends on the vocabulary order.
        cand = sorted(cand, key=lambda j: (-z[g, j], vocab[j]))
        picked = _drop_redundant([(vocab[j], a[g, j]) for j in cand], max_terms)
        index = {vocab[j]: j for j in cand}
        out.append(tuple(
            ThemeTerm(
                term=t, n_texts=int(a[g, index[t]]), segment_share=float(seg_share[g, index[t]]),
                rest_share=float(rest_share[g, index[t]]),
                overall_share=float(overall[index[t]]),
                lift=float(seg_share[g, index[t]] / overall[index[t]]),
                z=float(z[g, index[t]]),
            )
            for t in picked
        ))
    return out


def _drop_redundant(ranked: list[tuple[str, float]], limit: int) -> list[str]:
    """Keep ranked terms, leaving out unigrams that a listed bigram already says."""
    count = dict(ranked)
    covered = set()
    for term, n in ranked:
        words = term.split()
        if len(words) == 2:
            covered.update(w for w in words if w in count and n >= REDUNDANT_SHARE * count[w])
    picked: list[str] = []
    seen_pairs: set[frozenset[str]] = set()
    for term, _n in ranked:
        words = term.split()
        if len(words) == 1 and term in covered:
            continue
        if len(words) == 2:
            pair = frozenset(words)
            if pair in seen_pairs:  # "delivery late" after "late delivery"
                continue
            seen_pairs.add(pair)
        picked.append(term)
        if len(picked) == limit:
            break
    return picked


def _topics(X, fit_pos: np.ndarray, vocab: np.ndarray, k: int, seed: int):
    """NMF topics on the unigram columns: (topics, per-text topic shares or None).

    Bigrams are left out here: each phrase's bigrams co-occur perfectly, so NMF spends its
    topics on single phrases instead of on what a group of texts talks about.
    """
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import normalize

    words = np.flatnonzero([" " not in v for v in vocab])
    k = min(k, len(words) - 1, len(fit_pos) - 1)
    if k < MIN_TOPICS:
        return (), None
    U = normalize(X[:, words])
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    # A topic model that stops at max_iter is still deterministic and usable.
    with quiet_warnings(ConvergenceWarning):
        W_fit = model.fit_transform(U[fit_pos])
        if len(fit_pos) < U.shape[0]:
            W = np.zeros((U.shape[0], k), dtype=W_fit.dtype)
            W[fit_pos] = W_fit
            rest = np.setdiff1d(np.arange(U.shape[0]), fit_pos, assume_unique=True)
            W[rest] = model.transform(U[rest])
        else:
            W = W_fit
    total = W.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(total > 0, W / total, np.nan)
    used = np.isfinite(shares[:, 0])
    overall = shares[used].mean(axis=0) if used.any() else np.zeros(k)
    topics = []
    for t in range(k):
        weight = model.components_[t]
        top = [j for j in np.argsort(-weight, kind="stable")[:TOPIC_WORDS] if weight[j] > 0]
        topics.append(Topic(topic=t, words=tuple(str(vocab[words[j]]) for j in top),
                            share=float(overall[t])))
    return tuple(topics), shares


def _topic_shares(
    shares: np.ndarray | None, group_of_doc: np.ndarray, n_groups: int,
) -> list[tuple[TopicShare, ...]]:
    if shares is None:
        return [() for _ in range(n_groups)]
    used = np.isfinite(shares[:, 0])
    overall = shares[used].mean(axis=0) if used.any() else np.zeros(shares.shape[1])
    out = []
    for g in range(n_groups):
        rows = used & (group_of_doc == g)
        seg = shares[rows].mean(axis=0) if rows.any() else np.zeros(shares.shape[1])
        out.append(tuple(
            TopicShare(topic=t, segment_share=float(seg[t]), overall_share=float(overall[t]),
                       lift=float(seg[t] / overall[t]) if overall[t] > 0 else None)
            for t in range(shares.shape[1])
        ))
    return out


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def theme_lines(
    report: ThemeReport, names: dict[int, str] | None = None, *, max_terms: int = 4,
) -> tuple[str, ...]:
    """One short line per segment for a profile or a memo.

    ``"Segment 2: 'late delivery', 'refund', 'support'"``; a segment without distinctive terms
    says so; a skipped report gives one line with the reason.
    """
    what = f"'{report.column}'" if report.column else "the text column"
    if report.skipped:
        return (f"No themes from {what}: {report.reason}",)
    names = names or {}
    lines = []
    for s in report.segments:
        name = names.get(s.segment, "Unassigned" if s.segment < 0 else f"Segment {s.segment}")
        if s.terms:
            lines.append(f"{name}: " + ", ".join(f"'{t.term}'" for t in s.terms[:max_terms]))
        else:
            lines.append(f"{name}: no distinctive terms ({s.note[0].lower()}{s.note[1:-1]}).")
    return tuple(lines)
