"""Profiles from orders and preferences; bounded re-ranking; recommendations and cold start."""

import pytest

from assistant.stores.profiles import Profile, build_profile, evaluate_profiles, recommend, rerank
from retrieval.schema import Product
from retrieval.search import ProductHit


def _p(pid, category="camping", brand="A", price=50.0, rating=4.0, stock=5):
    return Product(
        id=pid, title=f"item {pid}", category=category, brand=brand, price=price, rating=rating, stock=stock
    )


def test_affinity_and_bounded_rerank():
    profile = Profile(categories={"camping"}, brands={"a"}, price_band=(20, 80))
    assert profile.affinity(_p("1")) == pytest.approx(1.0)
    assert profile.affinity(_p("2", category="kitchen", brand="B", price=500)) == 0.0
    close = [
        ProductHit(_p("k", category="kitchen", brand="B"), 1.00),
        ProductHit(_p("c"), 0.98),
        ProductHit(_p("z", category="kitchen", brand="B"), 0.5),
    ]
    assert [h.product.id for h in rerank(close, profile)] == ["c", "k", "z"]  # a near tie: taste decides
    far = [
        ProductHit(_p("k", category="kitchen", brand="B"), 1.0),
        ProductHit(_p("c"), 0.2),
        ProductHit(_p("x"), 0.0),
    ]
    assert rerank(far, profile)[0].product.id == "k"  # a clear relevance lead stands
    assert rerank(close, Profile()) == close  # no profile: untouched


def test_recommend_cold_start_and_known_shopper():
    catalogue = {
        p.id: p
        for p in [
            _p("t1", rating=4.9),
            _p("t2", rating=4.8),
            _p("t3", rating=4.7),
            _p("k1", category="kitchen", brand="B", rating=4.6),
            _p("gone", rating=5.0, stock=0),
        ]
    }
    cold = recommend(catalogue, Profile(), k=3)
    ids = [h.product.id for h in cold]
    assert "gone" not in ids and ids[:2] == ["t1", "t2"] and "k1" in ids  # variety: two per category
    assert cold[0].reasons == ["popular with shoppers"]
    known = recommend(catalogue, Profile(categories={"kitchen"}, bought={"t1"}), k=2)
    assert [h.product.id for h in known][0] == "k1" and "t1" not in [h.product.id for h in known]


@pytest.mark.slow
def test_profiles_from_demo_orders_and_the_offline_check(demo_shop_real):
    search = demo_shop_real.index.products
    search.warm_up()
    profile = build_profile("C1001", demo_shop_real.orders, search.products)
    assert "footwear" in profile.categories and profile.bought and profile.price_band
    assert build_profile("nobody", demo_shop_real.orders, search.products).is_empty
    result = evaluate_profiles(search, ["gift", "black", "waterproof", "lightweight"], shoppers=60)
    assert result["preferred_share_with_profile"] > result["preferred_share_without_profile"]


@pytest.mark.slow
def test_recommend_turn_in_chat(demo_shop_real):
    from assistant.chat.protocol import ChatRequest
    from assistant.chat.service import ChatService
    from assistant.generation.fake import FakeGenerator

    chat = ChatService(demo_shop_real.index, FakeGenerator(), demo_shop_real.orders)
    guest = chat.respond(ChatRequest(message="recommend something for me"))
    known = chat.respond(ChatRequest(message="recommend something for me", customer_id="C1002"))
    assert guest.route == known.route == "products" and guest.products and known.products
    assert "best-rated" in guest.text and "bought" in known.text
    assert [p.id for p in guest.products] != [p.id for p in known.products]
    assert {c.id for c in known.citations} == {p.id for p in known.products}
