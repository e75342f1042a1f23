"""Product categories from descriptions, and each customer's spend shares by category.

Studies of retail logs group products before they group customers: a customer who spends
mostly on lunch bags and one who spends mostly on Christmas decorations have different
interests even with the same RFM cell. Descriptions are the only product attribute most logs
carry, so categories are learned from them:

1. clean the descriptions (upper case, drop colours, sizes, pack counts, digits and filler
   words, so that ``LUNCH BAG RED RETROSPOT`` and ``LUNCH BAG PINK POLKADOT`` look alike);
2. TF-IDF over words and word pairs (scikit-learn);
3. factorise with NMF (deterministic ``nndsvda`` start) into topics and put each product in
   its heaviest topic; NMF gives balanced, additive topics where k-means on TF-IDF leaves one
   catch-all cluster with a third of the products;
4. label each category by its topic's heaviest terms, e.g. ``Bag · Jumbo · Lunch``.

Non-product codes (``is_product`` false: postage, fees, ...) never enter the clustering;
they form their own ``Non-product`` category (``category_id`` -1).

The per-product and per-customer aggregations run in Ibis on the engine that holds the lines;
only the product table (a few thousand rows) and the customer x category table come back.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "NON_PRODUCT",
    "NON_PRODUCT_ID",
    "OTHER",
    "category_shares",
    "category_spend",
    "clean_description",
    "product_categories",
    "product_table",
]

#: Label and id of the category that holds non-product codes.
NON_PRODUCT = "Non-product"
NON_PRODUCT_ID = -1
#: Label of products whose description fits no category (id ``n_categories``).
OTHER = "Other"

#: Words that describe a variant of a product rather than what it is: colours, sizes,
#: materials of finish, pack counts and filler words. Removed before TF-IDF.
_VARIANT_WORDS = frozenset(
    """
    RED PINK BLUE GREEN WHITE BLACK IVORY PURPLE YELLOW ORANGE GOLD SILVER CREAM GREY GRAY
    BROWN LILAC TURQUOISE AQUA NAVY MAGENTA CHOCOLATE NATURAL CLEAR COLOUR COLOURED COLOURS
    ASSORTED MULTICOLOUR PASTEL BRIGHT DARK LIGHT
    SMALL LARGE MEDIUM MINI BIG GIANT TINY TALL SIZE SIZES CM MM
    SET SETS OF THE AND WITH IN ON FOR TO A AN W OR BY PACK PCS PC PIECE
    DESIGN DESIGNS NEW ASST ASSORTED
    """.split()
)
_NON_LETTERS = re.compile(r"[^A-Z]+")
_WORD = r"(?u)\b[A-Z]{2,}\b"


def clean_description(text: str | None) -> str:
    """Normalise one product description for categorisation.

    Parameters
    ----------
    text : str or None
        A raw description such as ``"SET OF 3 RED RETROSPOT CAKE TINS "``.

    Returns
    -------
    str
        Upper-case words, without digits, punctuation, colours, sizes, pack counts and
        filler words (``"RETROSPOT CAKE TINS"``); empty for a missing description.

    Examples
    --------
    >>> clean_description("LUNCH BAG RED RETROSPOT")
    'LUNCH BAG RETROSPOT'
    >>> clean_description("SET/6 RED SPOTTY PAPER PLATES")
    'SPOTTY PAPER PLATES'
    """
    if not isinstance(text, str):
        return ""
    words = _NON_LETTERS.sub(" ", text.upper()).split()
    return " ".join(w for w in words if len(w) > 1 and w not in _VARIANT_WORDS)


def product_table(lines: ir.Table) -> pd.DataFrame:
    """One row per product: description, product flag, lines and gross purchase spend.

    Parameters
    ----------
    lines : ibis.Table
        Kept order lines (``CleanedLines.kept``) with ``product_id``, ``description``,
        ``revenue``, ``is_return`` and ``is_product``.

    Returns
    -------
    pandas.DataFrame
        Columns ``product_id``, ``description`` (the alphabetically last non-empty one,
        deterministic on every engine), ``is_product``, ``n_lines``, ``revenue`` (gross
        purchase spend, returns excluded), ``net_revenue`` (returns netted) and
        ``customers`` (distinct buyers), sorted by ``product_id``.
    """
    purchase = ~lines.is_return
    agg = lines.group_by("product_id").aggregate(
        description=lines.description.strip().nullif("").max(),
        is_product=lines.is_product.cast("int8").max(),
        n_lines=lines.count(),
        revenue=lines.revenue.sum(where=purchase),
        net_revenue=lines.revenue.sum(),
        customers=lines.customer_id.nunique(),
    )
    df = agg.to_pandas()
    df["is_product"] = df["is_product"].fillna(0).astype(bool)
    for col in ("revenue", "net_revenue"):
        df[col] = df[col].fillna(0.0).astype("float64")
    df["description"] = df["description"].fillna("")
    return df.sort_values("product_id", ignore_index=True)


def product_categories(
    products: ir.Table | pd.DataFrame,
    *,
    n_categories: int = 25,
    n_terms: int = 3,
    max_iter: int = 400,
    random_state: int = 0,
) -> pd.DataFrame:
    """Group products into categories learned from their descriptions.

    Parameters
    ----------
    products : ibis.Table or pandas.DataFrame
        Either kept order lines (an Ibis table, summarised with :func:`product_table`) or
        a products DataFrame with ``product_id`` and ``description`` (and optionally
        ``is_product``, true when missing).
    n_categories : int, default=25
        Number of product categories learned (``Other`` and ``Non-product`` come on top).
    n_terms : int, default=3
        Terms in each category label.
    max_iter : int, default=400
        Iterations of the NMF solver.
    random_state : int, default=0
        Seed of the NMF; the same seed gives the same categories.

    Returns
    -------
    pandas.DataFrame
        One row per product: ``product_id``, ``description``, ``category_id`` (0 is the
        category with the most products; ``n_categories`` is ``Other``, products whose
        description loads on no topic; -1 non-product) and ``category`` (label). The top
        terms of each category are in ``attrs["terms"]`` (category id -> list of str).

    Raises
    ------
    ValueError
        If fewer products than ``n_categories`` have a usable description.
    """
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    if isinstance(products, pd.DataFrame):
        df = products.copy()
    else:
        df = product_table(products)
    if "is_product" not in df:
        df["is_product"] = True
    df = df.sort_values("product_id", ignore_index=True)
    clean = df["description"].map(clean_description)
    usable = df["is_product"].astype(bool) & clean.str.len().gt(0)
    if usable.sum() < n_categories:
        raise ValueError(
            f"{int(usable.sum())} products have a usable description; "
            f"n_categories={n_categories} needs at least as many"
        )

    docs = clean[usable]
    vec = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=_WORD, lowercase=False
    )
    X = vec.fit_transform(docs)
    nmf = NMF(n_categories, init="nndsvda", max_iter=max_iter, random_state=random_state)
    with warnings.catch_warnings():
        # Topics are usable long before the last decimal of the loss settles.
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = nmf.fit_transform(X)
    raw = W.argmax(axis=1)
    assigned = W.max(axis=1) > 0  # descriptions made only of rare words load on no topic

    # Renumber by size (largest first, ties by topic) so that ids are stable and meaningful.
    sizes = np.bincount(raw[assigned], minlength=n_categories)
    order = np.lexsort((np.arange(n_categories), -sizes))
    new_id = np.empty(n_categories, dtype=np.int64)
    new_id[order] = np.arange(n_categories)
    labels = np.where(assigned, new_id[raw], n_categories)

    terms = np.asarray(vec.get_feature_names_out())
    top_terms: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    for topic in range(n_categories):
        c = int(new_id[topic])
        ranked = terms[np.argsort(-nmf.components_[topic], kind="stable")]
        top_terms[c] = _distinct_terms(ranked, n_terms)
        names[c] = " · ".join(t.title() for t in top_terms[c])
    _dedupe_names(names)
    names[n_categories] = OTHER
    top_terms[n_categories] = []
    top_terms[NON_PRODUCT_ID] = []

    out = df[["product_id", "description"]].copy()
    cat = np.full(len(df), NON_PRODUCT_ID, dtype=np.int64)
    cat[usable.to_numpy()] = labels
    # Products whose description is made only of variant words cannot be placed.
    cat[df["is_product"].astype(bool).to_numpy() & ~usable.to_numpy()] = n_categories
    out["category_id"] = cat
    out["category"] = [names.get(int(c), NON_PRODUCT) for c in cat]
    out.attrs["terms"] = top_terms
    return out


def _distinct_terms(ranked: np.ndarray, n: int) -> list[str]:
    """First ``n`` ranked terms, skipping a bigram whose words are already shown and vice versa."""
    picked: list[str] = []
    for term in ranked:
        words = set(term.split())
        if any(words <= set(p.split()) or set(p.split()) <= words for p in picked):
            continue
        picked.append(term)
        if len(picked) == n:
            break
    return picked


def _dedupe_names(names: dict[int, str]) -> None:
    """Make labels unique by appending the category id to repeats."""
    seen: dict[str, int] = {}
    for c in sorted(names):
        if names[c] in seen:
            names[c] = f"{names[c]} ({c})"
        seen.setdefault(names[c], c)


def category_spend(lines: ir.Table, categories: pd.DataFrame) -> pd.DataFrame:
    """Gross purchase spend per customer and category (long form).

    Parameters
    ----------
    lines : ibis.Table
        Kept order lines with ``customer_id``, ``product_id``, ``revenue``, ``is_return``.
    categories : pandas.DataFrame
        Output of :func:`product_categories` (``product_id``, ``category_id``,
        ``category``).

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``category_id``, ``category``, ``spend`` (sum of revenue
        of purchase lines, returns excluded), one row per pair with positive spend.
        Products missing from ``categories`` are ignored.
    """
    import ibis

    purchase = lines.filter(~lines.is_return)
    by = purchase.group_by(["customer_id", "product_id"]).aggregate(
        spend=purchase.revenue.sum()
    )
    cat = ibis.memtable(categories[["product_id", "category_id"]].astype({"category_id": "int64"}))
    joined = by.inner_join(cat, "product_id").select("customer_id", "category_id", "spend")
    out = (
        joined.group_by(["customer_id", "category_id"])
        .aggregate(spend=joined.spend.sum())
        .to_pandas()
    )
    out = out[out["spend"] > 0]
    labels = dict(zip(categories["category_id"], categories["category"], strict=False))
    out["category"] = out["category_id"].map(labels)
    out["spend"] = out["spend"].astype("float64")
    return out.sort_values(["customer_id", "category_id"], ignore_index=True)[
        ["customer_id", "category_id", "category", "spend"]
    ]


def category_shares(
    lines: ir.Table,
    categories: pd.DataFrame,
    *,
    include_non_product: bool = False,
) -> pd.DataFrame:
    """Each customer's share of purchase spend by product category, as segmenter features.

    Shares are taken over **gross purchase spend** (returns excluded), so they are between 0
    and 1 and each row sums to 1 even for customers whose returns exceed their purchases.
    Customers without any positive purchase spend in the counted categories have no row
    (their interests are unknown); join with ``how="left"`` and decide per use.

    Parameters
    ----------
    lines : ibis.Table
        Kept order lines (``CleanedLines.kept``).
    categories : pandas.DataFrame
        Output of :func:`product_categories`.
    include_non_product : bool, default=False
        Whether non-product codes (postage, fees) count as an interest.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and one float column per category (named by its label, in category
        id order), rows summing to 1; sorted by ``customer_id``.
    """
    long = category_spend(lines, categories)
    if not include_non_product:
        long = long[long["category_id"] != NON_PRODUCT_ID]
    wide = long.pivot_table(
        index="customer_id", columns="category_id", values="spend", aggfunc="sum", fill_value=0.0
    )
    ids = sorted(
        set(categories["category_id"]) - (set() if include_non_product else {NON_PRODUCT_ID})
    )
    wide = wide.reindex(columns=ids, fill_value=0.0)
    labels = dict(zip(categories["category_id"], categories["category"], strict=False))
    wide.columns = [labels[c] for c in ids]
    total = wide.sum(axis=1)
    shares: pd.DataFrame = wide[total > 0].div(total[total > 0], axis=0)
    return shares.rename_axis(None, axis=1).reset_index()
