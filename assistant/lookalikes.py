"""Letters of other scripts that look like Latin ones: "ignоre" and "apprоved" with a
Cyrillic о read as an attacker meant them to. One table for every check that reads
hostile text (triage's instruction detector, the draft checks)."""

from __future__ import annotations

LOOKALIKE_LETTERS: dict[int, str] = {
    **{ord(a): b for a, b in zip("аеорсухіјѕԁɡοανЅ", "aeopcyxijsdgoavS")},
    **{ord(a): b for a, b in zip("АВЕКМНОРСТХІЈ", "ABEKMHOPCTXIJ")},
}
