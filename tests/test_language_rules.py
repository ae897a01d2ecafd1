"""rules/language.toml: every example in it is detected as its language, and a mistake in
the file is reported with the file, the line and the problem."""

import pytest

from assistant.triage.language import (
    RULES_PATH,
    LanguageRulesError,
    default_rules,
    detect_language,
    load_rules,
)


@pytest.mark.parametrize(
    ("language", "text"),
    default_rules().examples,
    ids=[f"{language}-{number}" for number, (language, _) in enumerate(default_rules().examples)],
)
def test_each_example_is_detected_as_its_language(language, text):
    assert detect_language(text).language == language, text


def test_the_shipped_file_is_the_one_read():
    rules = default_rules()
    assert rules.path == RULES_PATH
    assert rules.customer_languages == ("en", "es", "fr", "de", "it", "pt", "nl")
    assert set(rules.customer_languages) <= set(rules.fallback_languages)


VALID = """\
ambiguous = ["de"]
english_first = ["is"]
fallback_languages = ["en", "fr", "nl"]

[languages.en]
words = ["the", "is", "and"]
examples = ["the box and the bag"]

[languages.fr]
words = ["le", "et", "is", "de", "the"]
examples = ["le colis et le sac"]
"""


def write(tmp_path, text):
    path = tmp_path / "language.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_word_counts_for_one_language_only(tmp_path):
    rules = load_rules(write(tmp_path, VALID))
    # "the" is listed twice, "de" is ambiguous, "is" English first.
    assert rules.words == {"en": frozenset({"is", "and"}), "fr": frozenset({"le", "et"})}
    assert rules.word_language["et"] == "fr"
    assert rules.examples == (("en", "the box and the bag"), ("fr", "le colis et le sac"))


def test_words_are_read_in_lower_case(tmp_path):
    rules = load_rules(write(tmp_path, VALID.replace('"le", "et"', '"Le", "ET"')))
    assert rules.words["fr"] == frozenset({"le", "et"})


@pytest.mark.parametrize(
    ("old", "new", "line", "problem"),
    [
        ('examples = ["le', 'exemples = ["le', 11, "languages.fr: unknown key 'exemples'"),
        ("english_first =", "english_frist =", 2, "unknown key 'english_frist'"),
        ('words = ["le", "et", "is", "de", "the"]', 'words = "le et"', 10, "must be a list"),
        ('"le", "et", "is"', '"le", 42, "is"', 10, "languages.fr.words[1]: 42 must be"),
        ('["de"]', "[true]", 1, "ambiguous[0]: true must be a non-empty string"),
        ('"le", "et"', '"le", "mot de passe"', 10, '"mot", "de", "passe"'),
        ('"le", "et"', '"le", "est-ce"', 10, "it is read as 'est', 'ce'"),
        ('"le", "et"', '"le", "42"', 10, "it is read as no word at all"),
        ('"le", "et"', '"le", ""', 10, "words[1]: '' must be a non-empty string"),
        ("[languages.fr]", "[languages.it]", 9, "'it' is not one of the fallback_languages"),
        ("[languages.fr]", "[languages.french]", 9, "a two-letter code"),
        ('words = ["le", "et", "is", "de", "the"]', "words = []", 10, "fr.words: is empty"),
        ('examples = ["the box and the bag"]', "examples = []", 7, "en.examples: is empty"),
        ('examples = ["le colis et le sac"]', "", 9, "languages.fr.examples: missing"),
        ('"en", "fr", "nl"', '"en", "fr", "zh_cn"', 3, "'zh_cn' is not a language code"),
        ("[languages.en]", "[languages.nl]", 5, "needs [languages.en]"),
    ],
)
def test_a_mistake_names_the_file_the_line_and_the_problem(tmp_path, old, new, line, problem):
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(LanguageRulesError) as error:
        load_rules(path)
    message = str(error.value)
    assert message.startswith(f"{path}, line {line}: "), message
    assert problem in message


def test_a_word_on_a_later_line_of_a_list_is_found_on_its_own_line(tmp_path):
    broken = VALID.replace(
        'words = ["le", "et", "is", "de", "the"]',
        'words = [\n  "le",\n  "et",\n  "mot de passe",\n]',
    )
    path = write(tmp_path, broken)
    with pytest.raises(
        LanguageRulesError, match=r", line 13: languages\.fr\.words\[2\]: 'mot de passe'"
    ):
        load_rules(path)


def test_the_same_word_elsewhere_does_not_mislead_the_line(tmp_path):
    # "the end" is in English's examples first; the mistake is French's word.
    broken = VALID.replace('"the box and the bag"', '"the end"').replace('"the"]', '"the end"]')
    with pytest.raises(LanguageRulesError, match=", line 10: languages.fr.words"):
        load_rules(write(tmp_path, broken))


def test_a_file_that_is_not_toml_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, VALID.replace('"le", "et",', '"le" "et",'))
    with pytest.raises(LanguageRulesError) as error:
        load_rules(path)
    assert str(error.value).startswith(f"{path}: not valid TOML")
    assert "line 10" in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(LanguageRulesError, match="missing from this install"):
        load_rules(tmp_path / "nowhere.toml")


def test_a_language_the_detector_does_not_know_is_named_with_its_line(tmp_path):
    path = write(tmp_path, VALID.replace('"nl"]', '"xx"]'))
    with pytest.raises(LanguageRulesError, match=", line 3: fallback_languages.* 'xx'"):
        load_rules(path)
