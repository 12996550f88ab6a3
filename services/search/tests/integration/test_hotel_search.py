"""``GET /v1/search/hotels``: hotels with rooms free every night of a stay, fed by inventory's supply events.

Each test plays inventory through the read model's inbox and asks over HTTP, as a traveller would: only active
hotels of approved owners are listed, a room type only when it has the rooms on every night and sleeps the guests,
priced night by night; the filters, both sorts and their keyset pages, and the query's validation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tripline.http.validation import encode_cursor
from tripline.testing import assert_problem

from ..supply import ReadModel, hotel, nights, owner, room, soon

HOTELS = "/v1/search/hotels"
STAY_NIGHTS = 3
RATE = 500_000

Page = dict[str, Any]


def first_night() -> date:
    """Tomorrow (UTC): every night of a stay starting then is still for sale."""
    return soon().date()


def night(n: int) -> date:
    """The ``n``-th night of the stay, counting from 0."""
    return first_night() + timedelta(days=n)


def stay(**params: Any) -> dict[str, Any]:
    """The query of a three-night stay in Goa, with ``params`` on top."""
    query = {"city": "Goa", "check_in": night(0).isoformat(), "check_out": night(STAY_NIGHTS).isoformat()}
    return query | params


def search(client: FlaskClient, **params: Any) -> Page:
    response = client.get(HOTELS, query_string=stay(**params))
    assert response.status_code == 200, response.json
    return dict(response.json)


def pages(client: FlaskClient, **params: Any) -> Iterator[Page]:
    """Every page of a search, following ``next_cursor`` to the end."""
    page = search(client, **params)
    yield page
    while page["next_cursor"] is not None:
        page = search(client, **(params | {"cursor": page["next_cursor"]}))
        yield page


def hotel_ids(page: Page) -> list[uuid.UUID]:
    return [uuid.UUID(item["hotel_id"]) for item in page["items"]]


def room_type_ids(page: Page, hotel_id: uuid.UUID) -> list[uuid.UUID]:
    (offer,) = [item for item in page["items"] if item["hotel_id"] == str(hotel_id)]
    return [uuid.UUID(room_type["room_type_id"]) for room_type in offer["room_types"]]


def inr(amount_minor: int) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": "INR"}


@dataclass(frozen=True)
class Listing:
    """A hotel inventory announced, with one room type."""

    hotel_id: uuid.UUID
    room_type_id: uuid.UUID


def approved_owner(read_model: ReadModel) -> uuid.UUID:
    owner_id = uuid.uuid4()
    read_model.apply(owner(owner_id))
    return owner_id


def open_hotel(
    read_model: ReadModel,
    owner_id: uuid.UUID,
    *,
    rate_minor: int = RATE,
    available: int = 5,
    capacity: int = 2,
    **changes: Any,
) -> Listing:
    """A hotel with one room type, free and priced alike on every night of the stay."""
    listing = Listing(uuid.uuid4(), uuid.uuid4())
    read_model.apply(
        hotel(listing.hotel_id, owner_id, [room(listing.room_type_id, capacity=capacity)], **changes),
        nights(listing.room_type_id, listing.hotel_id, night(0), STAY_NIGHTS, available, rate_minor),
    )
    return listing


def one_night(
    room_type_id: uuid.UUID, hotel_id: uuid.UUID, n: int, available: int = 5, rate_minor: int = RATE, version: int = 1
) -> Any:
    return nights(room_type_id, hotel_id, night(n), 1, available, rate_minor, version)


# Who is listed ---------------------------------------------------------------------------------------------------


def test_an_active_hotel_of_an_approved_owner_is_listed_as_the_contract_shows_it(
    read_model: ReadModel, client: FlaskClient
) -> None:
    listing = open_hotel(read_model, approved_owner(read_model))

    page = search(client)

    assert page == {
        "items": [
            {
                "hotel_id": str(listing.hotel_id),
                "name": "Sea Breeze",
                "city": "Goa",
                "stars": 4,
                "amenities": ["wifi", "pool"],
                "min_price": inr(STAY_NIGHTS * RATE),
                "room_types": [
                    {
                        "room_type_id": str(listing.room_type_id),
                        "name": "Deluxe",
                        "capacity": 2,
                        "available_rooms": 5,
                        "total_price": inr(STAY_NIGHTS * RATE),
                    }
                ],
            }
        ],
        "next_cursor": None,
    }


@pytest.mark.parametrize("status", ["pending", "rejected", "suspended"])
def test_hotels_of_an_owner_not_approved_are_not_listed(
    read_model: ReadModel, client: FlaskClient, status: str
) -> None:
    owner_id = uuid.uuid4()
    read_model.apply(owner(owner_id, status=status))
    open_hotel(read_model, owner_id)

    assert search(client)["items"] == []


def test_hotels_of_an_owner_search_has_not_heard_of_are_not_listed(read_model: ReadModel, client: FlaskClient) -> None:
    open_hotel(read_model, uuid.uuid4())

    assert search(client)["items"] == []


def test_an_owner_approved_later_brings_their_hotels_in_and_suspended_takes_them_out(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = uuid.uuid4()
    read_model.apply(owner(owner_id, status="pending", version=1))
    listing = open_hotel(read_model, owner_id)
    assert search(client)["items"] == []

    read_model.apply(owner(owner_id, status="approved", version=2))
    assert hotel_ids(search(client)) == [listing.hotel_id]

    read_model.apply(owner(owner_id, status="suspended", version=3))
    assert search(client)["items"] == []


def test_an_inactive_hotel_is_not_listed_until_a_newer_picture_reactivates_it(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = approved_owner(read_model)
    listing = open_hotel(read_model, owner_id, is_active=False)
    assert search(client)["items"] == []

    read_model.apply(hotel(listing.hotel_id, owner_id, [room(listing.room_type_id)], is_active=True, version=2))

    assert hotel_ids(search(client)) == [listing.hotel_id]


def test_a_hotel_deactivated_by_a_newer_picture_leaves_the_results(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    listing = open_hotel(read_model, owner_id)
    assert hotel_ids(search(client)) == [listing.hotel_id]

    read_model.apply(hotel(listing.hotel_id, owner_id, [room(listing.room_type_id)], is_active=False, version=2))

    assert search(client)["items"] == []


# Which room types fit --------------------------------------------------------------------------------------------


def test_a_room_type_one_room_short_on_one_night_is_not_listed(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, roomy, tight = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(roomy, "Roomy"), room(tight, "Tight")]),
        nights(roomy, hotel_id, night(0), STAY_NIGHTS, available=2),
        one_night(tight, hotel_id, 0, available=2),
        one_night(tight, hotel_id, 1, available=1),  # one short of the two rooms asked for
        one_night(tight, hotel_id, 2, available=2),
    )

    assert room_type_ids(search(client, rooms=2), hotel_id) == [roomy]
    assert set(room_type_ids(search(client, rooms=1), hotel_id)) == {roomy, tight}


def test_a_room_type_with_a_night_never_announced_is_not_listed(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, whole, gap = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(whole, "Whole"), room(gap, "Gap")]),
        nights(whole, hotel_id, night(0), STAY_NIGHTS),
        one_night(gap, hotel_id, 0),
        one_night(gap, hotel_id, 2),  # the middle night is unknown: no rooms to sell on it
    )

    assert room_type_ids(search(client), hotel_id) == [whole]


def test_a_room_type_whose_last_night_is_missing_is_not_listed(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(room_type_id)]),
        nights(room_type_id, hotel_id, night(0), STAY_NIGHTS - 1),
    )

    assert search(client)["items"] == []
    assert hotel_ids(search(client, check_out=night(STAY_NIGHTS - 1).isoformat())) == [hotel_id]


def test_the_night_of_check_out_is_not_needed(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(room_type_id)]),
        nights(room_type_id, hotel_id, night(0), STAY_NIGHTS),
        one_night(room_type_id, hotel_id, STAY_NIGHTS, available=0, rate_minor=9_999_999),
    )

    (offer,) = search(client)["items"]

    assert offer["min_price"] == inr(STAY_NIGHTS * RATE)


def test_a_hotel_without_any_fitting_room_type_is_not_listed(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    full = open_hotel(read_model, owner_id, available=1)
    roomy = open_hotel(read_model, owner_id, available=3)

    assert hotel_ids(search(client, rooms=2)) == [roomy.hotel_id]
    assert full.hotel_id in hotel_ids(search(client, rooms=1))


def test_a_hotel_announced_without_room_types_is_not_listed(read_model: ReadModel, client: FlaskClient) -> None:
    read_model.apply(hotel(uuid.uuid4(), approved_owner(read_model), []))

    assert search(client)["items"] == []


def test_nights_announced_before_their_hotel_count_once_it_arrives(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    read_model.apply(nights(room_type_id, hotel_id, night(0), STAY_NIGHTS))
    assert search(client)["items"] == []

    read_model.apply(hotel(hotel_id, owner_id, [room(room_type_id)]))

    assert hotel_ids(search(client)) == [hotel_id]


@pytest.mark.parametrize(
    ("rooms", "guests", "fits"),
    [(2, 4, True), (2, 5, False), (1, 2, True), (1, 3, False), (3, 5, True)],
    ids=["2 rooms for 4", "2 rooms for 5", "1 room for 2", "1 room for 3", "3 rooms for 5"],
)
def test_a_room_type_fits_when_its_rooms_sleep_every_guest(
    read_model: ReadModel, client: FlaskClient, rooms: int, guests: int, fits: bool
) -> None:
    listing = open_hotel(read_model, approved_owner(read_model), capacity=2)

    listed = hotel_ids(search(client, rooms=rooms, guests=guests))

    assert listed == ([listing.hotel_id] if fits else [])


def test_only_the_room_types_that_sleep_the_guests_are_listed(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, double, family = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(double, "Double", capacity=2), room(family, "Family", capacity=4)]),
        nights(double, hotel_id, night(0), STAY_NIGHTS, rate_minor=300_000),
        nights(family, hotel_id, night(0), STAY_NIGHTS, rate_minor=700_000),
    )

    (offer,) = search(client, guests=3)["items"]

    assert [room_type["name"] for room_type in offer["room_types"]] == ["Family"]
    assert offer["min_price"] == inr(STAY_NIGHTS * 700_000)


# Prices ----------------------------------------------------------------------------------------------------------


def test_a_stay_is_priced_night_by_night_and_offers_its_fewest_free_rooms(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(room_type_id)]),
        one_night(room_type_id, hotel_id, 0, available=7, rate_minor=400_000),
        one_night(room_type_id, hotel_id, 1, available=3, rate_minor=650_000),  # a weekend night, dearer
        one_night(room_type_id, hotel_id, 2, available=9, rate_minor=420_000),
    )

    (offer,) = search(client)["items"]
    (room_type,) = offer["room_types"]

    assert room_type["total_price"] == inr(400_000 + 650_000 + 420_000)
    assert room_type["available_rooms"] == 3
    assert offer["min_price"] == room_type["total_price"]


def test_room_types_come_cheapest_first_and_the_cheapest_is_the_hotels_price(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, suite, standard, deluxe = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(suite, "Suite"), room(standard, "Standard"), room(deluxe, "Deluxe")]),
        nights(suite, hotel_id, night(0), STAY_NIGHTS, rate_minor=900_000),
        nights(standard, hotel_id, night(0), STAY_NIGHTS, rate_minor=300_000),
        one_night(deluxe, hotel_id, 0, rate_minor=200_000),  # cheaper than Standard on one night only
        one_night(deluxe, hotel_id, 1, rate_minor=500_000),
        one_night(deluxe, hotel_id, 2, rate_minor=500_000),
    )

    (offer,) = search(client)["items"]

    assert [room_type["name"] for room_type in offer["room_types"]] == ["Standard", "Deluxe", "Suite"]
    assert [room_type["total_price"]["amount_minor"] for room_type in offer["room_types"]] == [
        900_000,
        1_200_000,
        2_700_000,
    ]
    assert offer["min_price"] == inr(900_000)


def test_a_room_type_sold_out_for_the_stay_no_longer_sets_the_hotels_price(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, cheap, dear = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(cheap, "Cheap"), room(dear, "Dear")]),
        nights(cheap, hotel_id, night(0), STAY_NIGHTS, rate_minor=100_000),
        nights(dear, hotel_id, night(0), STAY_NIGHTS, rate_minor=800_000),
    )
    assert search(client)["items"][0]["min_price"] == inr(STAY_NIGHTS * 100_000)

    read_model.apply(one_night(cheap, hotel_id, 1, available=0, rate_minor=100_000, version=2))

    (offer,) = search(client)["items"]
    assert [room_type["name"] for room_type in offer["room_types"]] == ["Dear"]
    assert offer["min_price"] == inr(STAY_NIGHTS * 800_000)


# Filters ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("city", ["Goa", "goa", "GOA", "  goa ", "gOa  "])
def test_the_city_matches_whatever_its_case_and_spacing(read_model: ReadModel, client: FlaskClient, city: str) -> None:
    listing = open_hotel(read_model, approved_owner(read_model))

    assert hotel_ids(search(client, city=city)) == [listing.hotel_id]


def test_a_city_of_several_words_matches_with_extra_spaces(read_model: ReadModel, client: FlaskClient) -> None:
    listing = open_hotel(read_model, approved_owner(read_model), city="New Delhi")

    assert hotel_ids(search(client, city=" new   DELHI ")) == [listing.hotel_id]
    assert search(client, city="newdelhi")["items"] == []


def test_hotels_of_other_cities_are_not_listed(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    goa = open_hotel(read_model, owner_id, city="Goa")
    open_hotel(read_model, owner_id, city="Mumbai")
    open_hotel(read_model, owner_id, city="Goa Velha")

    assert hotel_ids(search(client, city="goa")) == [goa.hotel_id]
    assert search(client, city="Pune")["items"] == []


def test_min_stars_keeps_hotels_with_at_least_that_many(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    by_stars = {stars: open_hotel(read_model, owner_id, stars=stars).hotel_id for stars in (2, 3, 4, 5)}

    listed = set(hotel_ids(search(client, min_stars=4)))

    assert listed == {by_stars[4], by_stars[5]}
    assert set(hotel_ids(search(client, min_stars=1))) == set(by_stars.values())


@pytest.mark.parametrize(
    "amenities",
    ["wifi,pool", ["wifi", "pool"], "WiFi, Pool", "pool"],
    ids=["comma list", "repeated", "case and spaces", "one"],
)
def test_every_requested_amenity_must_be_offered(read_model: ReadModel, client: FlaskClient, amenities: Any) -> None:
    owner_id = approved_owner(read_model)
    resort = open_hotel(read_model, owner_id, amenities=["wifi", "pool", "spa"])
    open_hotel(read_model, owner_id, amenities=["wifi"])
    open_hotel(read_model, owner_id, amenities=[])

    assert hotel_ids(search(client, amenities=amenities)) == [resort.hotel_id]


def test_an_amenity_no_hotel_offers_lists_nothing(read_model: ReadModel, client: FlaskClient) -> None:
    open_hotel(read_model, approved_owner(read_model), amenities=["wifi", "pool"])

    assert search(client, amenities="wifi,gym")["items"] == []


def test_max_price_is_the_most_a_room_may_cost_for_the_whole_stay(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, standard, suite = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(standard, "Standard"), room(suite, "Suite")]),
        nights(standard, hotel_id, night(0), STAY_NIGHTS, rate_minor=300_000),
        nights(suite, hotel_id, night(0), STAY_NIGHTS, rate_minor=900_000),
    )
    pricey = open_hotel(read_model, owner_id, rate_minor=1_000_000)

    # The stay, not a night: a Suite night (900,000) is below the limit, its three nights are not.
    (offer,) = search(client, max_price_minor=2_000_000)["items"]
    assert offer["hotel_id"] == str(hotel_id)
    assert [room_type["name"] for room_type in offer["room_types"]] == ["Standard"]
    assert offer["min_price"] == inr(900_000)

    limit_exactly = search(client, max_price_minor=2_700_000)
    assert [room_type["name"] for room_type in limit_exactly["items"][0]["room_types"]] == ["Standard", "Suite"]
    assert pricey.hotel_id not in hotel_ids(limit_exactly)
    assert search(client, max_price_minor=899_999)["items"] == []


def test_the_max_price_follows_each_nights_rate(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(room_type_id)]),
        one_night(room_type_id, hotel_id, 0, rate_minor=100_000),
        one_night(room_type_id, hotel_id, 1, rate_minor=100_000),
        one_night(room_type_id, hotel_id, 2, rate_minor=400_000),
    )

    assert hotel_ids(search(client, max_price_minor=600_000)) == [hotel_id]
    assert search(client, max_price_minor=599_999)["items"] == []


# Sorting and pages -----------------------------------------------------------------------------------------------


def test_sort_by_price_lists_the_cheapest_stay_first_ties_by_hotel_id(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = approved_owner(read_model)
    rates = [700_000, 300_000, 500_000, 300_000, 900_000]
    listings = [open_hotel(read_model, owner_id, rate_minor=rate) for rate in rates]
    expected = sorted(zip(rates, (listing.hotel_id for listing in listings), strict=True))

    page = search(client, sort="price")

    assert hotel_ids(page) == [hotel_id for _, hotel_id in expected]
    assert [item["min_price"]["amount_minor"] for item in page["items"]] == [STAY_NIGHTS * rate for rate, _ in expected]


def test_price_is_the_default_sort(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    for rate in (400_000, 100_000, 250_000):
        open_hotel(read_model, owner_id, rate_minor=rate)

    assert hotel_ids(search(client)) == hotel_ids(search(client, sort="price"))
    assert [item["min_price"]["amount_minor"] for item in search(client)["items"]] == [
        STAY_NIGHTS * rate for rate in (100_000, 250_000, 400_000)
    ]


def test_sort_by_stars_lists_more_stars_first_then_the_cheapest(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    three_cheap = open_hotel(read_model, owner_id, stars=3, rate_minor=100_000)
    five_dear = open_hotel(read_model, owner_id, stars=5, rate_minor=900_000)
    five_cheap = open_hotel(read_model, owner_id, stars=5, rate_minor=400_000)
    four = open_hotel(read_model, owner_id, stars=4, rate_minor=200_000)

    listed = hotel_ids(search(client, sort="stars"))

    assert listed == [five_cheap.hotel_id, five_dear.hotel_id, four.hotel_id, three_cheap.hotel_id]


def test_the_sort_uses_the_price_of_room_types_that_fit(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    # Its cheapest room type is full on the stay: the hotel ranks by the next one.
    hotel_id, full, open_ = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(full, "Full"), room(open_, "Open")]),
        nights(full, hotel_id, night(0), STAY_NIGHTS, available=0, rate_minor=100_000),
        nights(open_, hotel_id, night(0), STAY_NIGHTS, rate_minor=800_000),
    )
    middle = open_hotel(read_model, owner_id, rate_minor=500_000)

    assert hotel_ids(search(client, sort="price")) == [middle.hotel_id, hotel_id]


@dataclass(frozen=True)
class Ranked:
    hotel_id: uuid.UUID
    stars: int
    price: int


def many_hotels(read_model: ReadModel, count: int = 25) -> list[Ranked]:
    """``count`` hotels whose prices and stars repeat, so both sorts must break ties to page exactly."""
    owner_id = approved_owner(read_model)
    hotels = []
    for n in range(count):
        stars, rate = 1 + n % 5, 100_000 * (1 + (n * 7) % 6)
        listing = open_hotel(read_model, owner_id, stars=stars, rate_minor=rate, name=f"Hotel {n}")
        hotels.append(Ranked(listing.hotel_id, stars, STAY_NIGHTS * rate))
    return hotels


ORDERS = {
    "price": lambda hotel: (hotel.price, hotel.hotel_id),
    "stars": lambda hotel: (-hotel.stars, hotel.price, hotel.hotel_id),
}


def test_every_hotel_on_a_page_lists_all_its_fitting_room_types(read_model: ReadModel, client: FlaskClient) -> None:
    # The page's hotels are picked before their room types are gathered: none may come with only some of them.
    owner_id = approved_owner(read_model)
    offered: dict[uuid.UUID, list[uuid.UUID]] = {}
    for n in range(5):
        hotel_id, cheaper, dearer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        read_model.apply(
            hotel(hotel_id, owner_id, [room(dearer, "Suite"), room(cheaper, "Standard")]),
            nights(cheaper, hotel_id, night(0), STAY_NIGHTS, rate_minor=100_000 * (n + 1)),
            nights(dearer, hotel_id, night(0), STAY_NIGHTS, rate_minor=100_000 * (n + 1) + 50_000),
        )
        offered[hotel_id] = [cheaper, dearer]

    walked = list(pages(client, limit=2))

    assert [len(page["items"]) for page in walked] == [2, 2, 1]
    listed = {hotel_id: room_type_ids(page, hotel_id) for page in walked for hotel_id in hotel_ids(page)}
    assert listed == offered


@pytest.mark.parametrize("sort", list(ORDERS))
def test_following_the_cursor_lists_every_hotel_once_in_order(
    read_model: ReadModel, client: FlaskClient, sort: str
) -> None:
    hotels = many_hotels(read_model)

    walked = list(pages(client, sort=sort, limit=4))

    assert [len(page["items"]) for page in walked] == [4, 4, 4, 4, 4, 4, 1]
    assert walked[-1]["next_cursor"] is None
    listed = [hotel_id for page in walked for hotel_id in hotel_ids(page)]
    assert listed == [hotel.hotel_id for hotel in sorted(hotels, key=ORDERS[sort])]


@pytest.mark.parametrize("sort", list(ORDERS))
def test_pages_of_a_filtered_search_hold_only_matches(read_model: ReadModel, client: FlaskClient, sort: str) -> None:
    hotels = many_hotels(read_model)
    matching = [hotel for hotel in hotels if hotel.stars >= 3 and hotel.price <= STAY_NIGHTS * 400_000]

    walked = list(pages(client, sort=sort, limit=4, min_stars=3, max_price_minor=STAY_NIGHTS * 400_000))

    listed = [hotel_id for page in walked for hotel_id in hotel_ids(page)]
    assert listed == [hotel.hotel_id for hotel in sorted(matching, key=ORDERS[sort])]


def test_a_page_that_ends_the_results_exactly_has_no_next_cursor(read_model: ReadModel, client: FlaskClient) -> None:
    many_hotels(read_model, count=8)

    walked = list(pages(client, limit=4))

    assert [len(page["items"]) for page in walked] == [4, 4]
    assert walked[-1]["next_cursor"] is None


def test_a_cursor_for_one_sort_is_refused_by_the_other(read_model: ReadModel, client: FlaskClient) -> None:
    many_hotels(read_model, count=6)
    cursor = search(client, sort="price", limit=2)["next_cursor"]
    assert cursor is not None

    response = client.get(HOTELS, query_string=stay(sort="stars", limit=2, cursor=cursor))

    assert_problem(response, 400, "invalid_cursor", "cursor")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "not a cursor!",
        encode_cursor({"sort": "price", "rank": 0}),
        encode_cursor({"sort": "departure", "rank": 0, "min_price_minor": 0, "hotel_id": str(uuid.uuid4())}),
        encode_cursor({"sort": "price", "rank": 0, "min_price_minor": 0, "hotel_id": "nobody"}),
        encode_cursor({"sort": "price", "rank": 0, "min_price_minor": 2**63, "hotel_id": str(uuid.uuid4())}),
        encode_cursor({"sort": "stars", "rank": -(2**64), "min_price_minor": 0, "hotel_id": str(uuid.uuid4())}),
    ],
    ids=["garbage", "outside the alphabet", "incomplete", "a bus sort", "not an id", "price too big", "rank too small"],
)
def test_a_cursor_this_api_did_not_issue_is_refused(read_model: ReadModel, client: FlaskClient, cursor: str) -> None:
    open_hotel(read_model, approved_owner(read_model))

    response = client.get(HOTELS, query_string=stay(cursor=cursor))

    assert_problem(response, 400, "invalid_cursor", "cursor")


# Dates -----------------------------------------------------------------------------------------------------------


def test_a_stay_at_the_end_of_the_calendar_is_an_answer_not_a_fault(client: FlaskClient) -> None:
    response = client.get(HOTELS, query_string=stay(check_in="9999-12-30", check_out="9999-12-31"))

    assert response.status_code == 200
    assert response.json["items"] == []


def test_a_stay_that_began_yesterday_lists_nothing(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    yesterday = first_night() - timedelta(days=2)
    read_model.apply(
        hotel(hotel_id, owner_id, [room(room_type_id)]),
        nights(room_type_id, hotel_id, yesterday, STAY_NIGHTS + 2),
    )
    today = yesterday + timedelta(days=1)

    # Last night's room is not for sale any more, however it was announced.
    assert search(client, check_in=yesterday.isoformat(), check_out=night(STAY_NIGHTS).isoformat())["items"] == []
    assert hotel_ids(search(client, check_in=today.isoformat(), check_out=night(STAY_NIGHTS).isoformat())) == [hotel_id]


def test_a_stay_of_thirty_nights_is_priced_over_all_of_them(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    read_model.apply(
        hotel(hotel_id, owner_id, [room(room_type_id)]),
        nights(room_type_id, hotel_id, night(0), 30, rate_minor=100_000),
    )

    (offer,) = search(client, check_out=night(30).isoformat())["items"]

    assert offer["min_price"] == inr(30 * 100_000)


# Versions --------------------------------------------------------------------------------------------------------


def test_a_newer_picture_without_a_room_type_removes_it_and_an_older_one_changes_nothing(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = approved_owner(read_model)
    hotel_id, kept, dropped = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first_picture = hotel(hotel_id, owner_id, [room(kept, "Kept"), room(dropped, "Dropped")], version=1)
    read_model.apply(
        first_picture,
        nights(kept, hotel_id, night(0), STAY_NIGHTS),
        nights(dropped, hotel_id, night(0), STAY_NIGHTS),
    )
    assert set(room_type_ids(search(client), hotel_id)) == {kept, dropped}

    read_model.apply(hotel(hotel_id, owner_id, [room(kept, "Kept")], name="Sea Breeze Renovated", version=2))
    assert room_type_ids(search(client), hotel_id) == [kept]

    read_model.apply(first_picture)  # the version 1 picture, arriving late as a message of its own

    (offer,) = search(client)["items"]
    assert offer["name"] == "Sea Breeze Renovated"
    assert room_type_ids(search(client), hotel_id) == [kept]


def test_an_older_picture_arriving_late_does_not_reactivate_a_hotel(read_model: ReadModel, client: FlaskClient) -> None:
    owner_id = approved_owner(read_model)
    listing = open_hotel(read_model, owner_id, version=1)

    read_model.apply(hotel(listing.hotel_id, owner_id, [room(listing.room_type_id)], is_active=False, version=3))
    read_model.apply(hotel(listing.hotel_id, owner_id, [room(listing.room_type_id)], is_active=True, version=2))

    assert search(client)["items"] == []


def test_an_older_night_arriving_late_does_not_bring_back_sold_rooms(
    read_model: ReadModel, client: FlaskClient
) -> None:
    owner_id = approved_owner(read_model)
    listing = open_hotel(read_model, owner_id, available=5)

    read_model.apply(one_night(listing.room_type_id, listing.hotel_id, 1, available=1, version=3))
    read_model.apply(one_night(listing.room_type_id, listing.hotel_id, 1, available=5, version=2))

    assert search(client, rooms=2)["items"] == []
    assert search(client, rooms=1)["items"][0]["room_types"][0]["available_rooms"] == 1


# Validation ------------------------------------------------------------------------------------------------------


def without(name: str) -> dict[str, Any]:
    return {key: value for key, value in stay().items() if key != name}


def nights_after_check_in(count: int) -> str:
    return night(count).isoformat()


# name: (query, the parameter the problem names)
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "city missing": (without("city"), "city"),
    "check_in missing": (without("check_in"), "check_in"),
    "check_out missing": (without("check_out"), "check_out"),
    "city blank": (stay(city="   "), "city"),
    "check_in not a date": (stay(check_in="tomorrow"), "check_in"),
    "check_out on check_in": (stay(check_out=nights_after_check_in(0)), "check_out"),
    "check_out before check_in": (stay(check_out=nights_after_check_in(-1)), "check_out"),
    "a stay of 31 nights": (stay(check_out=nights_after_check_in(31)), "check_out"),
    "no rooms": (stay(rooms=0), "rooms"),
    "no guests": (stay(guests=0), "guests"),
    "six stars": (stay(min_stars=6), "min_stars"),
    "negative price": (stay(max_price_minor=-1), "max_price_minor"),
    "an amenity that is not a token": (stay(amenities="Wi Fi!"), "amenities"),
    "sort by name": (stay(sort="name"), "sort"),
    "unknown parameter": (stay(extra="forbid"), "extra"),
    "limit 101": (stay(limit=101), "limit"),
    "limit 0": (stay(limit=0), "limit"),
    "rooms repeated": ({**stay(), "rooms": ["1", "2"]}, "rooms"),
}


@pytest.mark.parametrize(("query", "field"), list(REFUSED.values()), ids=list(REFUSED))
def test_an_invalid_query_is_refused_naming_the_parameter(
    read_model: ReadModel, client: FlaskClient, query: dict[str, Any], field: str
) -> None:
    open_hotel(read_model, approved_owner(read_model))

    response = client.get(HOTELS, query_string=query)

    assert_problem(response, 400, "validation_failed", field)


def test_a_refusal_names_every_invalid_parameter(client: FlaskClient) -> None:
    response = client.get(HOTELS, query_string=stay(rooms=0, sort="name", colour="blue"))

    assert_problem(response, 400, "validation_failed")
    assert {"rooms", "sort", "colour"} <= {error["field"] for error in response.json["errors"]}


def test_a_thirty_night_stay_is_a_valid_query(client: FlaskClient) -> None:
    assert search(client, check_out=nights_after_check_in(30)) == {"items": [], "next_cursor": None}
