"""The words product managers use for segments, tied to what the computed table can say of them.

A name such as "Discount Savers", "Loyal Regulars" or "Power Users" makes a claim about the
segment even when it names no column: more discount, less churn, more usage. Each ``Concept``
here lists the words that make one such claim and says how to find the evidence in *any*
table: by tokens of column names (``discount_share``, ``CouponUses``, ``logins_30d``), or by
the computed stance (value and risk against the average). Nothing here knows a fixture's
columns; the word lists are the vocabulary of the field, kept in one place so that they can
grow.

The lists favour precision. A word that could mean two things ("pro" is also a plan name,
"returning" also means "coming back") is left out or resolved against the table's own levels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Axis = Literal["value", "risk"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class Concept:
    """One claim a name word makes.

    Attributes
    ----------
    key
        A short id used in messages ("discount", "loyalty").
    words
        Name words that make the claim (lower case; plurals and simple stems are matched).
    columns
        Column-name tokens that measure it; ``sign`` is the claimed direction on them.
    axis, axis_sign
        The stance axis the claim is about and its direction (+1: high value / high risk).
    fallback_columns, fallback_sign
        Evidence to use when no column of ``columns`` exists and no axis is measured.
    recency_inverse
        Whether "days since last activity" columns count as inverse evidence (usage claims).
    """

    key: str
    words: frozenset[str]
    columns: frozenset[str] = frozenset()
    sign: int = 1
    axis: Axis | None = None
    axis_sign: int = 0
    fallback_columns: frozenset[str] = frozenset()
    fallback_sign: int = 1
    recency_inverse: bool = False
    # What a name with this word claims, for the re-ask message ("more discount").
    claim: str = ""


# The word offered to the writer when the data supports a concept: a PM's word for it, the
# first when the difference is strong (a mean standardized difference of 1 or more), the second
# when it is milder: usage a little below average is "Casual", not "Inactive".
DISPLAY = {
    "discount": ("Deal-Seeking", "Bargain"), "thrift": ("Budget", "Thrifty"),
    "premium": ("Premium", "Big-Spending"), "loyalty": ("Loyal", "Steady"),
    "risk": ("At-Risk", "Churning"), "newness": ("New", "Newcomer"),
    "veteran": ("Long-Tenured", "Veteran"), "heavy_use": ("Power", "Engaged"),
    "light_use": ("Inactive", "Casual"), "frequency": ("Frequent", "Regular"),
    "one_time": ("One-Time", "Occasional"), "support": ("High-Touch", "Support-Heavy"),
    "seasonal": ("Seasonal", "Holiday"), "travel": ("International", "Roaming"),
    "data": ("Data-Heavy", "Streaming"), "tech": ("Digital", "Connected"),
    "mobile": ("Mobile", "App-First"), "returns": ("Returners", "Return-Heavy"),
}


USAGE_TOKENS = _words(
    "login logins logon session sessions usage use uses used events event active activity api "
    "minutes views pageviews visits visit clicks features feature actions opens streams plays "
    "messages posts uploads downloads queries requests engagement dau mau hours data "
    "streaming watched watch listens calls texts sms orders purchases transactions trips "
    "bookings frequency")
# Usage-looking tokens that measure trouble or cost, not use.
NOT_USAGE_TOKENS = _words(
    "support ticket tickets complaint complaints case cases help helpdesk failed errors error "
    "returns refund refunds dropped since last days recency charges charge spend price cost")
RECENCY_TOKENS = _words("recency inactive idle dormant")
TENURE_TOKENS = _words("tenure seniority signup joined membership vintage lifetime age")
SUPPORT_TOKENS = _words("support ticket tickets complaint complaints case cases helpdesk "
                        "escalations escalation contacts")
DISCOUNT_TOKENS = _words("discount discounts discounted coupon coupons promo promos promotion "
                         "promotions voucher vouchers deal deals markdown markdowns cashback "
                         "rebate rebates")
SEASONAL_TOKENS = _words("q4 december dec november nov holiday holidays season seasonal "
                         "christmas xmas gift gifts gifting festive blackfriday")
TRAVEL_TOKENS = _words("intl international roaming roam abroad overseas foreign travel "
                       "traveling travelling")
DATA_TOKENS = _words("data streaming stream streams video bandwidth")
TECH_TOKENS = _words("internet online streaming digital app web tech device devices smart api "
                     "integration integrations developer fiber broadband wifi")
MOBILE_TOKENS = _words("mobile app smartphone")
RETURN_TOKENS = _words("return returns returned refund refunds")
FREQUENCY_TOKENS = _words("orders order purchases purchase transactions visits trips bookings "
                          "frequency baskets")
# Order columns that measure size or timing, not frequency.
NOT_FREQUENCY_TOKENS = _words("avg average mean value aov size share pct percent ratio rate")
VALUE_WORDS = _words("spend spending revenue charges amount value aov mrr arpu ltv clv price")

CONCEPTS: tuple[Concept, ...] = (
    Concept("discount", _words(
        "discount discounts discounter discounters deal deals dealseeker dealseekers bargain "
        "bargains coupon coupons couponer couponers couponing saver savers promo promos "
        "promotion promotions voucher vouchers cashback markdown markdowns clearance"),
        columns=DISCOUNT_TOKENS, claim="more discount or deal use"),
    Concept("thrift", _words(
        "budget thrifty frugal economy economical cheap penny pennywise pricesensitive "
        "price-sensitive costconscious cost-conscious"),
        axis="value", axis_sign=-1, claim="lower value (spend)"),
    Concept("premium", _words(
        "premium vip vips whale whales elite affluent luxury platinum bigticket big-ticket "
        "highvalue high-value valuable lucrative spender spenders bigspenders highrollers "
        "high-rollers wealthy moneyed upscale"),
        axis="value", axis_sign=1, claim="higher value (spend)"),
    Concept("loyalty", _words(
        "loyal loyalist loyalists loyalty retained steady stable committed faithful devoted "
        "stalwart stalwarts dedicated longtime long-time lifer lifers sticky die-hard diehard"),
        axis="risk", axis_sign=-1, fallback_columns=TENURE_TOKENS, fallback_sign=1,
        claim="lower churn (they stay)"),
    Concept("risk", _words(
        "risk at-risk atrisk risky churn churner churners churning leaving leaver leavers "
        "lapsed lapsing departing flight exiting fading wavering drifting slipping attrition "
        "cancelling canceling quitting defecting defector defectors switcher switchers "
        "switching fickle disloyal endangered vulnerable unhappy frustrated dissatisfied "
        "disgruntled"),
        axis="risk", axis_sign=1, claim="higher churn (they leave)"),
    Concept("newness", _words(
        "new newcomer newcomers newbie newbies trial trials trialist trialists trialer trialers "
        "recent fresh rookie rookies beginner beginners novice novices onboarding starter "
        "starters first-time firsttime fledgling recruits joiners"),
        columns=TENURE_TOKENS, sign=-1, claim="shorter tenure (recently joined)"),
    Concept("veteran", _words(
        "veteran veterans tenured seasoned established longstanding long-standing old-timer "
        "old-timers oldtimers"),
        columns=TENURE_TOKENS, sign=1, claim="longer tenure"),
    Concept("heavy_use", _words(
        "power heavy active engaged engagement super superuser superusers champion champions "
        "enthusiast enthusiasts avid intensive hardcore daily busy hyperactive addict addicts "
        "devotee devotees pros pro"),
        columns=USAGE_TOKENS, recency_inverse=True, claim="more usage"),
    Concept("light_use", _words(
        "light casual occasional passive inactive idle disengaged dormant sporadic infrequent "
        "low-touch lowtouch quiet lurker lurkers minimal sleeping sleepy ghost ghosts "
        "hibernating"),
        columns=USAGE_TOKENS, sign=-1, recency_inverse=True, claim="less usage"),
    Concept("frequency", _words("regular regulars repeat frequent habitual"),
            columns=FREQUENCY_TOKENS, recency_inverse=True, claim="more frequent orders or visits"),
    Concept("one_time", _words("one-time onetime one-off oneoff single-purchase"),
            columns=FREQUENCY_TOKENS, sign=-1, recency_inverse=True, claim="fewer orders"),
    Concept("support", _words(
        "needy high-touch hightouch complainer complainers complaining demanding support-heavy"),
        columns=SUPPORT_TOKENS, claim="more support contacts"),
    Concept("seasonal", _words(
        "seasonal holiday holidays festive christmas xmas yuletide gift gifts gifter gifters "
        "gifting santa"),
        columns=SEASONAL_TOKENS, claim="more seasonal or gift buying"),
    Concept("travel", _words(
        "international global globetrotter globetrotters traveler travelers traveller "
        "travellers roamer roamers roaming jetsetter jetsetters abroad overseas worldwide "
        "cross-border"),
        columns=TRAVEL_TOKENS, claim="more international use or roaming"),
    Concept("data", _words("streamer streamers streaming data-hungry bandwidth binge bingers "
                           "binger video"),
            columns=DATA_TOKENS, claim="more data or streaming"),
    Concept("tech", _words("tech techie techies tech-savvy techsavvy savvy digital online connected "
                           "gadget gadgets geek geeks wired early-adopters"),
            columns=TECH_TOKENS, claim="more use of digital or online services"),
    Concept("mobile", _words("mobile app-first mobile-first smartphone on-the-go"),
            columns=MOBILE_TOKENS, claim="more mobile or app use"),
    Concept("returns", _words("returner returners serial-returners"),
            columns=RETURN_TOKENS, claim="more returns"),
)

# Words that turn a claim round when they come before it in a name ("Low-Risk Loyalists",
# "No-Discount Buyers", "Non-Trial Accounts").
NEGATORS = _words("no non not never without zero un anti")
DOWN = _words("low lower light less least few fewer rare minimal reduced small short little")
UP = _words("high higher heavy more most many big large frequent top long")

# Sentiment words that contradict a segment's computed risk: "Efficient Users" for the
# segment that churns at twice the average hides the first group a PM would act on.
POSITIVE_WORDS = _words(
    "happy satisfied thriving efficient successful secure healthy content delighted advocates "
    "ambassadors stars ideal golden model flourishing growing winners")
NEGATIVE_WORDS = _words(
    "unhappy struggling frustrated dissatisfied declining disgruntled troubled wavering fading")

# Nouns that make a column or outcome in a name a wish ("Revenue Seekers", "Churn Avoiders").
DESIRE_NOUNS = _words(
    "seeker seekers lover lovers hunter hunters chaser chasers wanter wanters avoider avoiders "
    "maximizer maximizers minimizer minimizers maximisers minimisers fans fan")

# Generic outcome words: an outcome is what happens to customers, whatever its column name.
OUTCOME_WORDS = _words("churn churned churning attrition cancellation cancellations revenue "
                       "retention ltv")

_SUFFIXES = (("ies", "y"), ("ers", "er"), ("ers", ""), ("es", ""), ("s", ""), ("ing", ""),
             ("ed", ""))


def word_forms(word: str) -> frozenset[str]:
    """A word and its plain stems: "savers" -> {savers, saver, sav}."""
    word = word.lower().strip("'\".,;:!?()")
    out = {word, word.replace("-", "")}
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.add(word[: len(word) - len(suffix)] + repl)
    return frozenset(w for w in out if w)


_INDEX: dict[str, tuple[Concept, ...]] = {}
for _concept in CONCEPTS:
    for _w in _concept.words:
        _INDEX.setdefault(_w, ())
        _INDEX[_w] = (*_INDEX[_w], _concept)


def concepts_of(word: str) -> tuple[Concept, ...]:
    """The concepts a name word makes a claim about (empty for most words)."""
    low = word.lower()
    if low in _INDEX:
        return _INDEX[low]
    for form in word_forms(low):
        if form in _INDEX:
            return _INDEX[form]
    return ()


def name_words(name: str) -> list[str]:
    """A name's words, lower case, hyphenated compounds also split ("Low-Risk" -> low, risk)."""
    out: list[str] = []
    for token in re.findall(r"[A-Za-z][A-Za-z'&-]*", name):
        low = token.lower().strip("'-&")
        if not low:
            continue
        if "-" in low and low not in _INDEX:
            out += [p for p in low.split("-") if p]
        else:
            out.append(low)
    return out
