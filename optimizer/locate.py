"""Offline gazetteer: US postal codes and city names to coordinates, without network access.

The data is the ZIP code table shipped inside the PyPI package ``zipcodes`` (version 1.3.0, file
``zips.json.bz2``). Each record has a ZIP code, its primary city, other city names the postal service
accepts for it (``acceptable_cities``), a state, a centroid (``lat``, ``long``), ``active`` and
``zip_code_type`` (STANDARD, PO BOX, UNIQUE or MILITARY). Records at (0, 0) have no known centroid and
are ignored, and so are military ZIP codes (states AA, AE, AP) and the freely associated states
(FM, MH, PW).

Only US addresses are located: the 50 states, DC and the territories with US ZIP codes (PR, VI, GU,
AS, MP), which may also be given as the country. Rows of any other country need coordinates.

City matching compares normalized names, so it ignores case, accents, punctuation and spacing. It
expands the usual abbreviations (St. to Saint, Ft. to Fort, Mt. to Mount, N. to North and others in
``_WORD_EXPANSIONS``) in the input and in the gazetteer alike. It also reads a state written into the
city field ("Austin, TX", "Austin, Texas", "Elk Grove Village IL"). A city name that is one edit away
from exactly one city of the state (one letter inserted, dropped or replaced, or two neighbouring
letters swapped) is accepted as a typo and noted.
"""

from __future__ import annotations

import bz2
import functools
import importlib.resources
import json
import logging
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from optimizer.inputs.postal import US_ZIP_COUNTRIES, normalize_postal_code

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # (min_lat, min_lon, max_lat, max_lon) in degrees

STATE_CODES: dict[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN",
    "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS", "missouri": "MO",
    "montana": "MT", "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND", "ohio": "OH",
    "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI",
    "south carolina": "SC", "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT",
    "vermont": "VT", "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY", "puerto rico": "PR", "us virgin islands": "VI", "virgin islands": "VI",
    "guam": "GU", "american samoa": "AS", "northern mariana islands": "MP",
}
_STATE_CODE_SET = frozenset(STATE_CODES.values())

# Extents used by the coordinate swap check. Each region gets its own box, because one box around
# Alaska, Hawaii and the territories would contain most of the northern hemisphere.
_REGION_OF_STATE = {"AK": "AK", "HI": "HI", "PR": "PR+VI", "VI": "PR+VI", "GU": "GU+MP", "MP": "GU+MP", "AS": "AS"}
_BOX_MARGIN_DEGREES = 1.0  # ZIP centroids lie inside the coastline, real addresses up to the shore

# Applied word by word to input names and gazetteer names alike, so an expansion that is wrong for
# some name still maps both spellings of it to the same key.
_WORD_EXPANSIONS = {
    "st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount", "mtn": "mountain", "pt": "point",
    "n": "north", "no": "north", "s": "south", "so": "south", "e": "east", "w": "west",
    "hts": "heights", "hgts": "heights", "spgs": "springs", "bch": "beach", "vlg": "village",
    "twp": "township", "ctr": "center", "jct": "junction", "hbr": "harbor", "lk": "lake", "cy": "city",
}
_MIN_LETTERS_FOR_TYPO = 4  # "Ada" and "Ida" are both real towns; short names are too easy to confuse


@dataclass(frozen=True)
class CityMatch:
    """Outcome of a city lookup: coordinates and a note, or no coordinates and the reason in ``note``."""

    lat: float | None
    lon: float | None
    note: str

    @property
    def located(self) -> bool:
        return self.lat is not None


@dataclass(frozen=True)
class _City:
    display_name: str
    lat: float
    lon: float
    zip_codes: frozenset[str]


@dataclass(frozen=True)
class _CityCandidate:
    """One reading of the city field: the city text and the state it is looked up in."""

    city: str
    state: str
    state_from_city_field: bool


class Gazetteer:
    """Lookup tables built once from ZIP code records (see the module docstring for the fields)."""

    def __init__(self, records: Iterable[Mapping[str, object]]):
        self._zip_points: dict[str, tuple[float, float]] = {}
        self._city_tables: tuple[dict[str, dict[str, _City]], dict[str, dict[int, list[str]]]] | None = None
        self._boxes: dict[str, Box] = {}
        self._records = [record for record in records if _usable(record)]
        self._build(self._records)

    def _tables(self) -> tuple[dict[str, dict[str, _City]], dict[str, dict[int, list[str]]]]:
        """Return the city tables by state, built on the first city lookup: files with coordinates or
        postal codes never need them, and building them takes a few seconds."""
        if self._city_tables is None:
            self._city_tables = self._build_cities(self._records)
        return self._city_tables

    @property
    def _cities(self) -> dict[str, dict[str, _City]]:
        return self._tables()[0]

    @property
    def _names_by_length(self) -> dict[str, dict[int, list[str]]]:
        return self._tables()[1]

    @classmethod
    def from_package(cls) -> Gazetteer:
        """Load the ZIP code table shipped with the installed ``zipcodes`` package."""
        raw = (importlib.resources.files("zipcodes") / "zips.json.bz2").read_bytes()
        records = json.loads(bz2.decompress(raw))
        gazetteer = cls(records)
        logger.info("Gazetteer loaded: %d ZIP codes", len(gazetteer._zip_points))
        return gazetteer

    def by_postal_code(self, postal_code: str, country: str) -> tuple[float, float] | None:
        """Return the (lat, lon) centroid of a US ZIP code, or None when unknown or not in the US."""
        country = _country_code(country)
        if country not in US_ZIP_COUNTRIES:
            return None
        try:
            zip_code = normalize_postal_code(postal_code, country)
        except ValueError:
            return None
        return self._zip_points.get(zip_code)

    def by_city(self, city: str, state: str, country: str) -> tuple[float, float, str] | None:
        """Return (lat, lon, note) for a city of a state, or None when no single city matches."""
        match = self.match_city(city, state, country)
        if match.lat is None or match.lon is None:
            return None
        return match.lat, match.lon, match.note

    def match_city(self, city: str, state: str, country: str) -> CityMatch:
        """Look a city up like ``by_city`` but also return the reason when it is not found."""
        country = _country_code(country)
        if country not in US_ZIP_COUNTRIES:
            return CityMatch(None, None, f"no offline gazetteer for country {country}; give lat and lon")
        if country != "US" and not state.strip():
            state = country  # a territory given as the country, such as PR
        candidates, problem = _city_candidates(city, state)
        if problem:
            return CityMatch(None, None, problem)

        for candidate in candidates:
            found = self._cities.get(candidate.state, {}).get(_city_key(candidate.city))
            if found:
                return CityMatch(found.lat, found.lon, _match_note(city, candidate, found, typo=False))

        ambiguous: list[str] = []
        for candidate in candidates:
            near = self._names_one_edit_away(_city_key(candidate.city), candidate.state)
            if len(near) == 1:
                found = self._cities[candidate.state][near[0]]
                return CityMatch(found.lat, found.lon, _match_note(city, candidate, found, typo=True))
            ambiguous += [self._cities[candidate.state][key].display_name for key in near]

        where = candidates[0].state if candidates else state
        if ambiguous:
            names = " and ".join(repr(name) for name in sorted(set(ambiguous)))
            return CityMatch(None, None, f"city {city.strip()!r} not found in {where}; one letter away from {names}, so no match was made")
        return CityMatch(None, None, f"city {city.strip()!r} not found in {where}")

    def country_boxes(self, country: str) -> list[Box]:
        """Return boxes (min_lat, min_lon, max_lat, max_lon) around the ZIP centroids of a country.

        Empty for a country without ZIP codes here, which turns the swap check off for it.
        """
        country = _country_code(country)
        if country == "US":
            return list(self._boxes.values())
        region = _REGION_OF_STATE.get(country)
        if country in US_ZIP_COUNTRIES and region in self._boxes:
            return [self._boxes[region]]
        return []

    def _names_one_edit_away(self, key: str, state: str) -> list[str]:
        """Return the keys of the distinct cities of a state that are one edit away from ``key``.

        Two names of the same ZIP codes (a primary city and its abbreviated alias) count as one city.
        """
        if len(key) < _MIN_LETTERS_FOR_TYPO:
            return []
        names_by_length = self._names_by_length.get(state, {})
        near: dict[frozenset[str], str] = {}
        cities = self._cities[state] if state in self._cities else {}
        for length in (len(key) - 1, len(key), len(key) + 1):
            for name in names_by_length.get(length, []):
                if not _one_edit_apart(key, name):
                    continue
                same_place = near.get(cities[name].zip_codes)
                if same_place is None or len(cities[name].display_name) > len(cities[same_place].display_name):
                    near[cities[name].zip_codes] = name  # the longer spelling: "City" over "Cty"
        return list(near.values())

    def _build(self, records: list[Mapping[str, object]]) -> None:
        points_by_region: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for record in records:
            state = str(record["state"])
            point = _point(record)
            self._zip_points[str(record["zip_code"])] = point
            points_by_region[_REGION_OF_STATE.get(state, "contiguous")].append(point)
        for region, points in points_by_region.items():
            self._boxes[region] = _box_around(points)

    @staticmethod
    def _build_cities(records: list[Mapping[str, object]]):
        primary: dict[tuple[str, str], list[Mapping[str, object]]] = defaultdict(list)
        acceptable: dict[tuple[str, str], list[Mapping[str, object]]] = defaultdict(list)
        for record in records:
            state = str(record["state"])
            primary[(state, _city_key(str(record["city"])))].append(record)
            for name in record.get("acceptable_cities") or []:  # type: ignore[union-attr]
                acceptable[(state, _city_key(str(name)))].append(record)

        cities: dict[str, dict[str, _City]] = {}
        names_by_length: dict[str, dict[int, list[str]]] = {}
        for (state, key), matching in list(primary.items()) + list(acceptable.items()):
            if key in cities.get(state, {}) or not key:
                continue  # a name that is some ZIP's primary city uses only those ZIPs
            cities.setdefault(state, {})[key] = _city_from_records(matching, key)
            names_by_length.setdefault(state, defaultdict(list))[len(key)].append(key)
        logger.info("Gazetteer city index built: %d city names", sum(len(names) for names in cities.values()))
        return cities, names_by_length


@functools.lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """Return the gazetteer of the installed ``zipcodes`` package, loaded on first use."""
    return Gazetteer.from_package()


def locate_rows(frame: pd.DataFrame, gazetteer: Gazetteer) -> pd.DataFrame:
    """Return a copy of ``frame`` with lat, lon, located_by and location_note filled in.

    ``frame`` needs lat and lon as floats (NaN when blank) and may have postal_code, city, state and
    country. A row keeps its coordinates when it has both. Otherwise it is looked up by postal code,
    then by city and state. located_by is "coordinates", "postal_code", "city" or "not_located".
    location_note explains how a name was matched, or why the row was not located.
    """
    located = frame.copy()
    results = [_locate_row(row, gazetteer) for row in frame.to_dict("records")]
    located["lat"] = pd.Series([result[0] for result in results], index=frame.index, dtype=float)
    located["lon"] = pd.Series([result[1] for result in results], index=frame.index, dtype=float)
    located["located_by"] = pd.Series([result[2] for result in results], index=frame.index, dtype=object)
    located["location_note"] = pd.Series([result[3] for result in results], index=frame.index, dtype=object)
    return located


def _locate_row(row: Mapping[str, object], gazetteer: Gazetteer) -> tuple[float, float, str, str]:
    lat, lon = _as_float(row.get("lat")), _as_float(row.get("lon"))
    if not math.isnan(lat) and not math.isnan(lon):
        return lat, lon, "coordinates", ""

    nan = math.nan
    country = _country_code(_as_text(row.get("country")))
    postal_code = _as_text(row.get("postal_code"))
    city = _as_text(row.get("city"))
    if country not in US_ZIP_COUNTRIES:
        return nan, nan, "not_located", f"no offline gazetteer for country {country}; give lat and lon to locate the row"

    notes = []
    if postal_code:
        point = gazetteer.by_postal_code(postal_code, country)
        if point is not None:
            return point[0], point[1], "postal_code", ""
        notes.append(f"postal code {postal_code!r} not found in the gazetteer")

    if city:
        match = gazetteer.match_city(city, _as_text(row.get("state")), country)
        notes.append(match.note)
        if match.lat is not None and match.lon is not None:
            return match.lat, match.lon, "city", "; ".join(note for note in notes if note)
    elif not postal_code:
        notes.append("no coordinates, postal code or city given")
    return nan, nan, "not_located", "; ".join(notes)


def _city_candidates(city: str, state: str) -> tuple[list[_CityCandidate], str]:
    """Read the city field and the state column into the lookups to try, best first.

    Returns the candidates, or no candidates and the reason (an unknown state code).
    """
    city = city.strip()
    state_code = state_code_of(state) if state.strip() else None
    if state.strip() and state_code is None:
        return [], f"state {state.strip()!r} is not a US state or territory code"

    readings: list[tuple[str, str | None]] = [(city, None)]
    if "," in city:
        head, tail = (part.strip() for part in city.rsplit(",", 1))
        readings = [(head, _state_in_text(tail)), (city, None)]
    else:
        words = city.split()
        for count in (1, 2, 3):  # a trailing state code or name without a comma: "Westlake Ohio"
            if len(words) > count and (code := state_code_of(" ".join(words[-count:]))):
                readings.append((" ".join(words[:-count]), code))

    candidates = []
    for text, code_in_city in readings:
        if code_in_city and state_code and code_in_city != state_code:
            continue  # "Springfield IL" in a row of state MO: the state column wins
        if code_in_city or state_code:
            candidates.append(_CityCandidate(text, code_in_city or state_code or "", state_code is None and bool(code_in_city)))
    if not candidates:
        return [], f"city {city!r} has no state; give the state column or write the city as 'City, ST'"
    return candidates, ""


def _match_note(raw_city: str, candidate: _CityCandidate, found: _City, *, typo: bool) -> str:
    raw_city = raw_city.strip()
    parts = []
    if candidate.state_from_city_field:
        parts.append(f"city {raw_city!r} read as {candidate.city!r} in state {candidate.state}")
    elif _plain(candidate.city) != _plain(raw_city):
        parts.append(f"city {raw_city!r} read as {candidate.city!r}")

    subject = "" if parts else f"city {candidate.city!r} "
    if typo:
        same_letters = sorted(_city_key(candidate.city)) == sorted(_city_key(found.display_name))
        kind = "swapped letters" if same_letters else "one-letter typo"
        parts.append(f"{subject}matched {found.display_name!r} ({kind})")
    elif _plain(found.display_name) != _plain(candidate.city):
        parts.append(f"{subject}matched as {found.display_name!r}")
    return ", ".join(parts)


def state_code_of(text: str) -> str | None:
    """Return the two-letter code of a US state or territory given by code or name, or None."""
    cleaned = " ".join(re.sub(r"[.]", "", text).split())
    if cleaned.upper() in _STATE_CODE_SET:
        return cleaned.upper()
    return STATE_CODES.get(cleaned.casefold())


def _state_in_text(text: str) -> str | None:
    """Return the state named at the start of the text after a comma ("TX", "Texas", "CA 926")."""
    words = [word for word in text.split() if not word.isdigit()]
    for count in (3, 2, 1):
        if len(words) >= count and (code := state_code_of(" ".join(words[:count]))):
            return code
    return None


@functools.lru_cache(maxsize=1 << 17)
def _city_key(name: str) -> str:
    """Return the matching key of a city name: lower-case letters and digits, abbreviations expanded."""
    words = _words(name)
    return "".join(_WORD_EXPANSIONS.get(word, word) for word in words)


def _plain(name: str) -> str:
    """Return the name without case, accents, punctuation and spaces, but with its abbreviations."""
    return "".join(_words(name))


def _words(name: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    letters = letters.replace("'", "").replace("\u2019", "")  # O'Fallon and O Fallon must meet
    return re.sub(r"[^0-9a-z]+", " ", letters).split()


def _one_edit_apart(first: str, second: str) -> bool:
    """Return True when the strings differ by exactly one insertion, deletion or substitution, or by
    two neighbouring letters swapped ("Housotn" for "Houston"), the usual one-keystroke typos."""
    if first == second or abs(len(first) - len(second)) > 1:
        return False
    if len(first) > len(second):
        first, second = second, first
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            if len(first) == len(second):
                swapped = first[index + 1 : index + 2] == second[index : index + 1] and \
                    first[index : index + 1] == second[index + 1 : index + 2]
                if swapped and first[index + 2 :] == second[index + 2 :]:
                    return True
                return first[index + 1 :] == second[index + 1 :]
            return first[index:] == second[index + 1 :]
    return True  # the longer string has one extra letter at the end


def _city_from_records(records: list[Mapping[str, object]], key: str) -> _City:
    """Place a city at the mean of its ZIP centroids.

    Active STANDARD ZIP codes are used when the city has any, because PO BOX and UNIQUE ZIP codes sit
    on a post office or one organization. Otherwise all its active ZIP codes, otherwise all of them.
    """
    standard = [r for r in records if r.get("active") and r.get("zip_code_type") == "STANDARD"]
    active = [r for r in records if r.get("active")]
    chosen = standard or active or records
    points = [_point(record) for record in chosen]
    lat = sum(point[0] for point in points) / len(points)
    lon = sum(point[1] for point in points) / len(points)
    zip_codes = frozenset(str(record["zip_code"]) for record in records)
    return _City(_display_name(records, key), round(lat, 5), round(lon, 5), zip_codes)


def _display_name(records: list[Mapping[str, object]], key: str) -> str:
    names = [str(record["city"]) for record in records if _city_key(str(record["city"])) == key]
    if not names:
        for record in records:
            names += [str(name) for name in record.get("acceptable_cities") or [] if _city_key(str(name)) == key]  # type: ignore[union-attr]
    # The most frequent spelling wins, and on a tie the longer one, which is "Springs" over "Spgs".
    return max(sorted(set(names)), key=lambda name: (names.count(name), len(name)))


def _usable(record: Mapping[str, object]) -> bool:
    if str(record.get("state")) not in _STATE_CODE_SET:
        return False  # military (AA, AE, AP) and freely associated states (FM, MH, PW)
    try:
        lat, lon = _point(record)
    except (TypeError, ValueError):
        return False
    return (lat, lon) != (0.0, 0.0)


def _point(record: Mapping[str, object]) -> tuple[float, float]:
    return float(str(record["lat"])), float(str(record["long"]))


def _box_around(points: list[tuple[float, float]]) -> Box:
    margin = _BOX_MARGIN_DEGREES
    return (
        max(-90.0, min(lat for lat, _ in points) - margin),
        max(-180.0, min(lon for _, lon in points) - margin),
        min(90.0, max(lat for lat, _ in points) + margin),
        min(180.0, max(lon for _, lon in points) + margin),
    )


def _country_code(country: str) -> str:
    return country.strip().upper() or "US"


def _as_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _as_float(value: object) -> float:
    if value is None or value == "":
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
