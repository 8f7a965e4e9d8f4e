"""Where orders come from: the registry of `OrderSource`s, chosen by `shop.orders_source`.

Apart from the sources themselves, so the own store (SQLite or the shared database) and the REST
client stay independent modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.errors import ConfigError
from assistant.stores.orders import OrderSource, OrderStore


def sqlite_orders(settings: Any) -> OrderSource:
    """The shop's own order tables: `shop.orders_db` or `HOME/orders.db`, or the shared database
    named by `store.database_url` (the name 'sqlite' is kept for existing configurations)."""
    return OrderStore.from_settings(settings)


def rest_orders(settings: Any) -> OrderSource:
    from assistant.stores.orders_rest import RestOrderSource

    shop = settings.shop
    if not shop.orders_url:
        raise ConfigError("shop.orders_source 'rest' needs shop.orders_url (the base URL of the order API)")
    return RestOrderSource(shop.orders_url, api_key=shop.orders_api_key, timeout_s=shop.orders_timeout_s)


# Where orders come from, by `shop.orders_source`; a plugin may add its own.
ORDER_SOURCES: dict[str, Callable[[Any], OrderSource]] = {"sqlite": sqlite_orders, "rest": rest_orders}


def open_orders(settings: Any) -> OrderSource:
    """The configured `OrderSource` (the own store by default, the shop's order API with 'rest')."""
    name = settings.shop.orders_source
    if name not in ORDER_SOURCES:
        raise ConfigError(
            f"unknown shop.orders_source {name!r}; available: {', '.join(sorted(ORDER_SOURCES))}"
        )
    return ORDER_SOURCES[name](settings)
