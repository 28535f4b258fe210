"""Postal code normalization: one canonical text form per postal code, never a number.

Spreadsheets and CSV readers turn the ZIP code 02116 into the number 2116 or 2116.0, so a US ZIP
code is accepted with its leading zeros lost or with a ``.0`` suffix and padded back to five
digits. The rules per country:

- US and its territories that use US ZIP codes (PR, VI, GU, AS, MP), and a blank country:
  ``2116``, ``2116.0``, ``02116`` and ``02116-1234`` all become ``02116``. A ZIP+4 code is reduced
  to its first five digits, and nine digits without a hyphen are read as ZIP+4. ``00000`` is
  rejected.
- CA: the ``A1A 1A1`` pattern, upper case with one space (``m5v2t6`` becomes ``M5V 2T6``). It is
  never zero-padded.
- Any other country: the trimmed text, because no offline rules are kept for it.
"""

from __future__ import annotations

import re

# Countries and territories whose addresses use US ZIP codes.
US_ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})

_ZIP_DIGITS = re.compile(r"(\d{1,5})(?:\.0*)?")  # 2116, 02116, 2116.0 (a number read as float)
_ZIP_PLUS_4 = re.compile(r"(\d{1,5})-(\d{4})")
_ZIP_NINE_DIGITS = re.compile(r"(\d{5})(\d{4})")
_ZIP_WITH_SUFFIX = re.compile(r"(\d{1,5})-(.*)")

# Canada Post never uses D, F, I, O, Q or U, and W and Z never start a postal code.
_CANADIAN_POSTAL_CODE = re.compile(r"([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])(\d[ABCEGHJ-NPRSTV-Z]\d)")


def normalize_postal_code(value: str, country: str) -> str:
    """Return the canonical form of ``value`` for ``country`` (ISO 3166-1 alpha-2, blank means US).

    Raises ValueError with a reason that reads after the quoted value, for example
    ``is not a US ZIP code; ...``.
    """
    text = value.strip()
    country = country.strip().upper() or "US"
    if text == "":
        raise ValueError("is blank; give a postal code")

    if country in US_ZIP_COUNTRIES:
        return _normalize_us_zip(text)
    if country == "CA":
        return _normalize_canadian_postal_code(text)
    return text


def _normalize_us_zip(text: str) -> str:
    zip_plus_4 = _ZIP_PLUS_4.fullmatch(text) or _ZIP_NINE_DIGITS.fullmatch(text)
    with_suffix = _ZIP_WITH_SUFFIX.fullmatch(text)
    digits = _ZIP_DIGITS.fullmatch(text)

    if zip_plus_4:
        first_five = zip_plus_4.group(1)
    elif with_suffix:
        raise ValueError(
            f"has an invalid ZIP+4 suffix {with_suffix.group(2)!r}; the part after the hyphen "
            "must be 4 digits, as in 02116-1234"
        )
    elif digits:
        first_five = digits.group(1)
    else:
        raise ValueError("is not a US ZIP code; give 5 digits (such as 02116) or ZIP+4 (such as 02116-1234)")

    normalized = first_five.zfill(5)
    if normalized == "00000":
        raise ValueError("is not a US ZIP code, because no ZIP code is 00000")
    return normalized


def _normalize_canadian_postal_code(text: str) -> str:
    compact = re.sub(r"[\s-]", "", text).upper()
    match = _CANADIAN_POSTAL_CODE.fullmatch(compact)
    if match is None:
        raise ValueError("is not a Canadian postal code; give the form A1A 1A1, such as M5V 2T6")
    return f"{match.group(1)} {match.group(2)}"
