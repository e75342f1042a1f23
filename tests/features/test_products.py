from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwise.clean import clean_transactions
from segwise.features.products import (
    NON_PRODUCT,
    NON_PRODUCT_ID,
    category_shares,
    category_spend,
    clean_description,
    product_categories,
    product_table,
)
from segwise.io import load_transactions


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("LUNCH BAG RED RETROSPOT", "LUNCH BAG RETROSPOT"),
        ("LUNCH BAG  BLACK SKULL.", "LUNCH BAG SKULL"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN ", "CAKE TINS PANTRY"),
        ("SET/6 RED SPOTTY PAPER PLATES", "SPOTTY PAPER PLATES"),
        ("60 TEATIME FAIRY CAKE CASES", "TEATIME FAIRY CAKE CASES"),
        ("pink and white 30cm heart", "HEART"),
        (None, ""),
    ],
)
def test_clean_description(raw: str | None, clean: str) -> None:
    assert clean_description(raw) == clean


@pytest.fixture(scope="module")
def retail_kept(shared_data: Path) -> ibis.Table:
    tx = load_transactions(shared_data / "uci-online-retail" / "online_retail.parquet")
    return clean_transactions(tx).kept


@pytest.fixture(scope="module")
def retail_products(retail_kept: ibis.Table) -> pd.DataFrame:
    return product_table(retail_kept)


@pytest.fixture(scope="module")
def retail_categories(retail_products: pd.DataFrame) -> pd.DataFrame:
    return product_categories(retail_products, random_state=0)


@pytest.mark.slow
def test_product_table_reconciles_with_lines(retail_kept: ibis.Table,
                                             retail_products: pd.DataFrame) -> None:
    assert retail_products["product_id"].is_unique
    total = retail_kept.revenue.sum().to_pyarrow().as_py()
    assert retail_products["net_revenue"].sum() == pytest.approx(total, rel=1e-9)
    # Default cleaning drops non-product codes, so every kept product is merchandise.
    assert retail_products["is_product"].all()
    assert len(retail_products) == 3676


@pytest.mark.slow
def test_lunch_bags_share_a_category(retail_categories: pd.DataFrame) -> None:
    cats = retail_categories.set_index("description")["category"]
    bags = ["LUNCH BAG RED SPOTTY", "LUNCH BAG PINK POLKADOT", "LUNCH BAG SUKI DESIGN",
            "LUNCH BAG WOODLAND", "LUNCH BAG  BLACK SKULL.", "LUNCH BAG APPLE DESIGN",
            "LUNCH BAG CARS BLUE", "LUNCH BAG SPACEBOY DESIGN"]
    assert set(bags) <= set(cats.index)
    assert cats[bags].nunique() == 1
    # The category is named after what the products are.
    assert "Bag" in cats[bags[0]]


@pytest.mark.slow
def test_categories_are_readable(retail_categories: pd.DataFrame) -> None:
    c = retail_categories
    assert c["product_id"].is_unique
    learned = c[c["category_id"].between(0, 24)]
    sizes = learned["category_id"].value_counts()
    assert len(sizes) == 25
    # Balanced: no catch-all category with a large part of the catalogue.
    assert sizes.max() < 0.15 * len(c)
    assert (sizes.sort_index().diff().dropna() <= 0).all()  # ids numbered by size
    assert c["category"].nunique() == c["category_id"].nunique()
    for desc_part in ("CAKE CASES", "CHRISTMAS TREE", "METAL SIGN"):
        hit = c[c["description"].str.contains(desc_part, regex=False)]
        assert hit["category"].value_counts(normalize=True).iloc[0] >= 0.75, desc_part
    # Labels are top terms joined by a middle dot, in title case.
    assert all(" · " in name for name in learned["category"])
    assert set(c.attrs["terms"]) >= set(learned["category_id"])


@pytest.mark.slow
def test_category_shares_sum_to_one(retail_kept: ibis.Table,
                                    retail_categories: pd.DataFrame) -> None:
    shares = category_shares(retail_kept, retail_categories)
    values = shares.drop(columns="customer_id").to_numpy()
    assert np.allclose(values.sum(axis=1), 1.0)
    assert ((values >= 0) & (values <= 1)).all()
    assert shares["customer_id"].is_unique
    n_buyers = retail_kept.filter(~retail_kept.is_return).customer_id.nunique().execute()
    assert len(shares) == n_buyers
    assert list(shares.columns[1:]) == list(
        retail_categories.drop_duplicates("category_id").sort_values("category_id")["category"]
    )


def test_same_seed_same_categories(retail_sample: pd.DataFrame) -> None:
    products = (retail_sample.rename(columns={"StockCode": "product_id",
                                              "Description": "description"})
                .drop_duplicates("product_id")[["product_id", "description"]])
    a = product_categories(products, n_categories=8, random_state=3)
    b = product_categories(products.sample(frac=1, random_state=1), n_categories=8,
                           random_state=3)
    pd.testing.assert_frame_equal(a, b)


def test_non_product_codes_get_their_own_category() -> None:
    words = ["LUNCH BAG", "CAKE CASES", "METAL SIGN", "PHOTO FRAME", "TEA CUP"]
    rows = [(f"P{i}", f"{w} {v}", True) for i, (w, v) in enumerate(
        (w, v) for w in words for v in ("SPACEBOY", "WOODLAND", "VINTAGE", "RETRO"))]
    rows += [("POST", "POSTAGE", False), ("M", "Manual", False)]
    products = pd.DataFrame(rows, columns=["product_id", "description", "is_product"])
    cats = product_categories(products, n_categories=5)
    non = cats[cats["product_id"].isin(["POST", "M"])]
    assert (non["category_id"] == NON_PRODUCT_ID).all()
    assert (non["category"] == NON_PRODUCT).all()
    # Each product word pair forms one category.
    groups = cats[cats["category_id"] >= 0].assign(word=lambda d: d["description"].str[:6])
    assert groups.groupby("word")["category_id"].nunique().eq(1).all()


def test_too_few_products_is_an_error() -> None:
    products = pd.DataFrame({"product_id": ["a", "b"], "description": ["RED", "CAKE TIN"]})
    with pytest.raises(ValueError, match="usable description"):
        product_categories(products, n_categories=5)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6),
                          st.floats(-50, 200, allow_nan=False), st.booleans()),
                min_size=1, max_size=40))
def test_shares_are_a_partition_of_purchase_spend(rows: list[tuple[int, int, float, bool]]
                                                  ) -> None:
    lines = pd.DataFrame(rows, columns=["customer", "product", "revenue", "is_return"])
    lines = lines.assign(customer_id=lines["customer"].map("c{}".format),
                         product_id=lines["product"].map("p{}".format),
                         revenue=lines["revenue"].where(~lines["is_return"],
                                                        -lines["revenue"].abs()))
    categories = pd.DataFrame({"product_id": [f"p{i}" for i in range(7)],
                               "category_id": [0, 0, 1, 1, 2, 2, NON_PRODUCT_ID],
                               "category": ["A", "A", "B", "B", "C", "C", NON_PRODUCT]})
    table = ibis.memtable(lines[["customer_id", "product_id", "revenue", "is_return"]])
    shares = category_shares(table, categories)
    assert list(shares.columns) == ["customer_id", "A", "B", "C"]
    values = shares[["A", "B", "C"]].to_numpy()
    assert np.allclose(values.sum(axis=1), 1.0)
    # Exactly the customers with positive purchase spend on products have a row.
    buy = lines[~lines["is_return"] & (lines["product"] < 6)]
    spend = buy.groupby("customer_id")["revenue"].apply(lambda s: s[s > 0].sum())
    assert set(shares["customer_id"]) <= set(spend[spend > 0].index)
    long = category_spend(table, categories)
    assert (long["spend"] > 0).all()
