"""Constrained field types and the strict base of every request body; error bodies."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, NotRequired, TypedDict, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)
from pydantic_core import PydanticCustomError

from models.allocation import POLICIES
from models.quantiles import quantile_level

__all__ = ["BIG", "Count", "Day", "ErrorItem", "ErrorItemJson", "ErrorJson", "ErrorOut",
           "FIRST_DAY", "Id", "LAST_DAY", "Level", "distinct_levels",
           "Number", "Policy", "RiskClass", "Share", "StrictBody", "TEXT_CHECK", "Units"]

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
"""Dates the API takes: every date stays far inside pandas' timestamps (1677..2262)."""
BIG = 1e12  # no stock or sales figure is larger; keeps every sum and pack count in range


def _text(text: Any) -> Any:
    """`text` unless it is a string holding a NUL (PostgreSQL cannot store it) or a lone
    surrogate (JSON `"\\ud800"`; pydantic would refuse it too, but without saying why)."""
    if isinstance(text, str) and "\x00" in text:
        raise PydanticCustomError("text_nul", "character {at} is NUL (\\u0000), not text: send "
                                  "text without it", {"at": text.index("\x00")})
    if isinstance(text, str) and not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PydanticCustomError(
                "unicode_surrogate", "character {at} is a lone surrogate ({char}), not text: "
                "send valid Unicode (a \\ud8xx escape must be followed by a \\udcxx one)",
                {"at": exc.start, "char": ascii(text[exc.start])[1:-1]}) from None
    return text


def _date_text(value: Any) -> Any:
    """Dates come as `YYYY-MM-DD` text: a number is not read as a Unix time."""
    if isinstance(value, str | date):
        return value
    raise PydanticCustomError("date_type", "Input should be a date as text, YYYY-MM-DD")


def _in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PydanticCustomError("date_range", "date {day} is out of range: send a date from "
                                  "{first} to {last}", {"day": str(day), "first": str(FIRST_DAY),
                                                        "last": str(LAST_DAY)})
    return day


def _level(q: float) -> float:
    try:
        return quantile_level(q)
    except ValueError as exc:
        raise PydanticCustomError("quantile_precision", str(exc)) from None


def distinct_levels(levels: list[float]) -> list[float]:
    seen: dict[float, int] = {}
    for i, q in enumerate(levels):
        if q in seen:
            raise PydanticCustomError(
                "quantile_repeated", "levels [{first}] and [{i}] are both {q}: they would "
                "share the column q{q}; send each level once",
                {"first": seen[q], "i": i, "q": f"{q:g}"})
        seen[q] = i
    return levels


TEXT_CHECK = BeforeValidator(_text)
"""Refuses NUL and lone surrogates: add to every `str` taken from a request."""
Id = Annotated[str, Field(min_length=1, max_length=200), TEXT_CHECK]
Day = Annotated[date, BeforeValidator(_date_text), AfterValidator(_in_range),
                Field(description=f"YYYY-MM-DD, from {FIRST_DAY} to {LAST_DAY}")]
Count = Annotated[int, Field(strict=True)]  # a JSON integer: not true, "3" or 3.0
Units = Annotated[float, Field(strict=True, ge=0, le=BIG, allow_inf_nan=False)]
Number = Annotated[float, Field(strict=True, ge=-BIG, le=BIG, allow_inf_nan=False)]
Share = Annotated[float, Field(strict=True, gt=0, lt=1, allow_inf_nan=False)]
Level = Annotated[Share, AfterValidator(_level)]
Policy = Literal["channelcast", "fair_share_forecast", "fair_share_sales"]
assert set(get_args(Policy)) == set(POLICIES)
RiskClass = Literal["critical", "high", "medium", "low"]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="where: body, field names and row indexes")
    msg: str = Field(description="what is wrong and what to do")
    type: str = Field(description="rule id, e.g. below_minimum, missing, unknown_node")
    value: str | None = None


class ErrorItemJson(TypedDict):
    """An `ErrorItem` as answered without validation (no `value` key: none)."""

    loc: list[str | int]
    msg: str
    type: str
    value: NotRequired[str | None]


class ErrorJson(TypedDict):
    """An `ErrorOut` as answered without validation (no `errors` key: none)."""

    detail: str
    errors: NotRequired[list[ErrorItemJson]]


class ErrorOut(BaseModel):
    """Every error answer: a sentence, and for bad input one item per problem."""

    detail: str
    errors: list[ErrorItem] | None = None
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "detail": "body.horizon: Input should be greater than or equal to 1",
        "errors": [{"loc": ["body", "horizon"], "type": "greater_than_equal",
                    "msg": "Input should be greater than or equal to 1", "value": "0"}]}]})


# --- forecasts -------------------------------------------------------------------------------

