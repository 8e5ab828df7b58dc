"""The words of achievement, in one place: English, Kazakh and Russian, keyed by reason code.

An outcome is described once, as a `Message`: a catalogue key (a reason code, or `reason.variant` where one code
reads as several sentences: `compared.increase.met`) and its placeholders' values, the same figures the outcome was
computed from. `render(message, lang)` fills the language's template: numbers as that language prints them (English
`1234.5`; Kazakh and Russian `1 234,5`, the validation messages' `number_text`), terms (directions, statuses,
sources) from `TERMS`, a nested message rendered in the same language. Placeholders are looked up in the message's
table, never formatted by Python's `str.format`; a placeholder with no value is an error, not an empty string.

The Kazakh wording follows the Concept (seed 001): нысаналы индикатор, нысаналы мән, арттыру / төмендету / ұстап
тұру, 6-бөлім, іс-қимыл жоспары, "2 жылда 1 рет".
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from services.api.validation.rules import number_text

Lang = Literal["en", "kk", "ru"]
LANGS: tuple[Lang, ...] = ("en", "kk", "ru")


@dataclass(frozen=True)
class Term:
    """A word of the vocabulary (`TERMS`), said in the message's language."""

    code: str


@dataclass(frozen=True)
class Ratio:
    antecedent: Decimal
    consequent: Decimal


@dataclass(frozen=True)
class Join:
    """Several values said one after another, separated by the term `sep` (`and`, `comma`, `semicolon`)."""

    items: Sequence["Param"]
    sep: str


@dataclass(frozen=True)
class Message:
    key: str
    params: Mapping[str, "Param"] = field(default_factory=dict)


Param = Decimal | Ratio | Term | int | str | Message | Join


# Sentences. The keys a reason code reads as: the code itself, or the code and its variants (`compared.*`).
CATALOGUE: dict[str, dict[Lang, str]] = {
    # --- one target against the actual -------------------------------------------------------------------
    "compared.increase.met": {
        "en": "increase: actual {actual} >= target {target} is true{how}",
        "kk": "арттыру: нақты мән ({actual}) нысаналы мәннен ({target}) кем емес, нысаналы мәнге қол жеткізілді{how}",
        "ru": "увеличение: фактическое значение ({actual}) не ниже целевого ({target}), целевое значение "
        "достигнуто{how}",
    },
    "compared.increase.missed": {
        "en": "increase: actual {actual} >= target {target} is false{how}",
        "kk": "арттыру: нақты мән ({actual}) нысаналы мәннен ({target}) төмен, нысаналы мәнге қол жеткізілмеді{how}",
        "ru": "увеличение: фактическое значение ({actual}) ниже целевого ({target}), целевое значение не "
        "достигнуто{how}",
    },
    "compared.decrease.met": {
        "en": "decrease: actual {actual} <= target {target} is true{how}",
        "kk": "төмендету: нақты мән ({actual}) нысаналы мәннен ({target}) аспайды, нысаналы мәнге қол жеткізілді{how}",
        "ru": "снижение: фактическое значение ({actual}) не выше целевого ({target}), целевое значение достигнуто{how}",
    },
    "compared.decrease.missed": {
        "en": "decrease: actual {actual} <= target {target} is false{how}",
        "kk": "төмендету: нақты мән ({actual}) нысаналы мәннен ({target}) жоғары, нысаналы мәнге қол жеткізілмеді{how}",
        "ru": "снижение: фактическое значение ({actual}) выше целевого ({target}), целевое значение не достигнуто{how}",
    },
    "compared.hold.met": {
        "en": "hold: the actual {actual} lies {gap} from the target {target}, within the tolerance {tolerance}{how}",
        "kk": "ұстап тұру: нақты мән ({actual}) мен нысаналы мәннің ({target}) айырмасы {gap}, бұл рұқсат етілген "
        "ауытқу ({tolerance}) шегінде, нысаналы мәнге қол жеткізілді{how}",
        "ru": "удержание: фактическое значение ({actual}) отличается от целевого ({target}) на {gap}, это в "
        "пределах допустимого отклонения ({tolerance}), целевое значение достигнуто{how}",
    },
    "compared.hold.missed": {
        "en": "hold: the actual {actual} lies {gap} from the target {target}, beyond the tolerance {tolerance}{how}",
        "kk": "ұстап тұру: нақты мән ({actual}) мен нысаналы мәннің ({target}) айырмасы {gap}, бұл рұқсат етілген "
        "ауытқудан ({tolerance}) асады, нысаналы мәнге қол жеткізілмеді{how}",
        "ru": "удержание: фактическое значение ({actual}) отличается от целевого ({target}) на {gap}, это больше "
        "допустимого отклонения ({tolerance}), целевое значение не достигнуто{how}",
    },
    "hold_without_tolerance": {
        "en": "the indicator is to be held at {target}; no tolerance is set (the document gives none), so the "
        "actual {actual} is not judged",
        "kk": "индикаторды {target} деңгейінде ұстап тұру көзделген; рұқсат етілген ауытқу белгіленбеген (құжатта "
        "ол берілмеген), сондықтан нақты мән ({actual}) бағаланбайды",
        "ru": "индикатор должен удерживаться на уровне {target}; допустимое отклонение не установлено (в документе "
        "его нет), поэтому фактическое значение ({actual}) не оценивается",
    },
    "ratio_consequents_differ": {
        "en": "the actual {actual} and the target {target} have different second terms; the rule compares ratios "
        "by their first term only",
        "kk": "нақты мән ({actual}) мен нысаналы мәннің ({target}) екінші мүшелері әртүрлі; ереже арақатынастарды "
        "тек бірінші мүшесі бойынша салыстырады",
        "ru": "у фактического значения ({actual}) и целевого ({target}) разные вторые члены; правило сравнивает "
        "соотношения только по первому члену",
    },
    "no_actual": {
        "en": "no accepted actual; the missing-value rule ({rule}) makes it {status}",
        "kk": "қабылданған нақты мән жоқ; жетіспейтін мән ережесі бойынша индикатор {status}",
        "ru": "принятого фактического значения нет; по правилу для отсутствующих значений индикатор {status}",
    },
    "no_data": {
        "en": "the accepted actual is 'no data' ({no_data_reason}); the missing-value rule ({rule}) makes it {status}",
        "kk": "қабылданған нақты мән: «деректер жоқ» ({no_data_reason}); жетіспейтін мән ережесі бойынша индикатор "
        "{status}",
        "ru": "принятое фактическое значение: «нет данных» ({no_data_reason}); по правилу для отсутствующих значений "
        "индикатор {status}",
    },
    "ratio.quotient": {
        "en": " (ratios compared as quotients a/b)",
        "kk": " (арақатынастар a/b бөліндісі ретінде салыстырылды)",
        "ru": " (соотношения сравниваются как частные a/b)",
    },
    "ratio.antecedent": {
        "en": " (ratios compared by their first term)",
        "kk": " (арақатынастар бірінші мүшесі бойынша салыстырылды)",
        "ru": " (соотношения сравниваются по первому члену)",
    },
    "ratio.none": {"en": "", "kk": "", "ru": ""},
    "target": {
        "en": "against {target} ({sources}): {words}",
        "kk": "нысаналы мән {target} ({sources}): {words}",
        "ru": "целевое значение {target} ({sources}): {words}",
    },
    # --- the year -----------------------------------------------------------------------------------------
    "not_a_target_year": {
        "en": "{year} is not a target year (the rule's target years: {years}; {printed}); rule v{version}",
        "kk": "{year} жыл нысаналы жыл емес (ереже бойынша нысаналы жылдар: {years}; {printed}); ереженің "
        "{version}-нұсқасы",
        "ru": "{year} год не является целевым (целевые годы по правилу: {years}; {printed}); правило, версия {version}",
    },
    "not_a_measurement_year": {
        "en": "{year} is not a target year (measured once in two years: {years}; {printed}); rule v{version}",
        "kk": "{year} жыл нысаналы жыл емес (индикатор 2 жылда 1 рет өлшенеді: {years}; {printed}); ереженің "
        "{version}-нұсқасы",
        "ru": "{year} год не является целевым (индикатор измеряется раз в два года: {years}; {printed}); правило, "
        "версия {version}",
    },
    "no_target_printed": {
        "en": "{year}: no target figure ({printed}); rule v{version}",
        "kk": "{year} жыл: нысаналы мән көрсетілмеген ({printed}); ереженің {version}-нұсқасы",
        "ru": "{year} год: целевое значение не указано ({printed}); правило, версия {version}",
    },
    "year.judged": {
        "en": "{year}: {two}{targets}; {status} (rule v{version})",
        "kk": "{year} жыл: {two}{targets}; қорытынды: индикатор {status} (ереженің {version}-нұсқасы)",
        "ru": "{year} год: {two}{targets}; итог: индикатор {status} (правило, версия {version})",
    },
    "year.ambiguous": {
        "en": "{year}: {two}{targets}; the outcomes differ, so the year is ambiguous (rule v{version})",
        "kk": "{year} жыл: {two}{targets}; нәтижелер әртүрлі, сондықтан жылдың қорытындысы екіұшты (ереженің "
        "{version}-нұсқасы)",
        "ru": "{year} год: {two}{targets}; результаты расходятся, поэтому итог года неоднозначен (правило, версия "
        "{version})",
    },
    "year.two_targets": {
        "en": "the document prints two targets ({printed}); which holds is not decided here. ",
        "kk": "құжатта екі нысаналы мән көрсетілген ({printed}); қайсысы қолданылатыны мұнда шешілмейді; ",
        "ru": "в документе указаны два целевых значения ({printed}); какое из них действует, здесь не решается; ",
    },
    "year.one_target": {"en": "", "kk": "", "ru": ""},
    "printed.figure": {
        "en": "{source} prints {printed}",
        "kk": "{source} бойынша: {printed}",
        "ru": "{source}: {printed}",
    },
    "printed.empty": {
        "en": "{source} prints an empty cell",
        "kk": "{source} бойынша: бос ұяшық",
        "ru": "{source}: пустая ячейка",
    },
    "printed.nothing": {"en": "nothing is printed", "kk": "ештеңе көрсетілмеген", "ru": "ничего не указано"},
    # --- the trend (keyed by its code) ----------------------------------------------------------------------
    "insufficient_data": {
        "en": "fewer than two years with an accepted figure",
        "kk": "қабылданған мәні бар жылдар екіден аз",
        "ru": "меньше двух лет с принятым значением",
    },
    "steady": {
        "en": "{y0}: {a0} → {y1}: {a1}, unchanged",
        "kk": "{y0}: {a0} → {y1}: {a1}, өзгеріссіз",
        "ru": "{y0}: {a0} → {y1}: {a1}, без изменений",
    },
    "changing": {
        "en": "{y0}: {a0} → {y1}: {a1}, moving while the indicator is to be held",
        "kk": "{y0}: {a0} → {y1}: {a1}, мән өзгерді, ал индикаторды ұстап тұру көзделген",
        "ru": "{y0}: {a0} → {y1}: {a1}, значение меняется, хотя индикатор должен удерживаться",
    },
    "improving": {
        "en": "{y0}: {a0} → {y1}: {a1}, desired direction {direction}",
        "kk": "{y0}: {a0} → {y1}: {a1}, жақсару (қажетті бағыт: {direction})",
        "ru": "{y0}: {a0} → {y1}: {a1}, улучшение (желаемое направление: {direction})",
    },
    "worsening": {
        "en": "{y0}: {a0} → {y1}: {a1}, desired direction {direction}",
        "kk": "{y0}: {a0} → {y1}: {a1}, нашарлау (қажетті бағыт: {direction})",
        "ru": "{y0}: {a0} → {y1}: {a1}, ухудшение (желаемое направление: {direction})",
    },
}

# Words said inside the sentences. Statuses read after "индикатор" / "индикатор" (kk, ru).
TERMS: dict[str, dict[Lang, str]] = {
    "achieved": {"en": "achieved", "kk": "орындалды", "ru": "достигнут"},
    "not_achieved": {"en": "not_achieved", "kk": "орындалмады", "ru": "не достигнут"},
    "not_evaluable": {"en": "not_evaluable", "kk": "бағаланбайды", "ru": "не оценивается"},
    "ambiguous": {"en": "ambiguous", "kk": "екіұшты", "ru": "неоднозначен"},
    "increase": {"en": "increase", "kk": "арттыру", "ru": "увеличение"},
    "decrease": {"en": "decrease", "kk": "төмендету", "ru": "снижение"},
    "hold": {"en": "hold", "kk": "ұстап тұру", "ru": "удержание"},
    "section6": {"en": "section 6", "kk": "6-бөлім", "ru": "раздел 6"},
    "action_plan_header": {"en": "the action plan", "kk": "іс-қимыл жоспары", "ru": "план действий"},
    "no_data": {"en": "no data", "kk": "деректер жоқ", "ru": "нет данных"},
    "none": {"en": "none", "kk": "жоқ", "ru": "нет"},
    "and": {"en": " and ", "kk": " және ", "ru": " и "},
    "comma": {"en": ", ", "kk": ", ", "ru": ", "},
    "semicolon": {"en": "; ", "kk": "; ", "ru": "; "},
}

_PLACEHOLDER = re.compile(r"\{([a-z_0-9]+)\}")


def fmt(value: Decimal | None) -> str:
    """A decimal as plain English text without trailing zeros: 19.0000 → 19, 2.2000 → 2.2."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def number(value: Decimal, lang: Lang) -> str:
    return fmt(value) if lang == "en" else number_text(value)


def say(value: Param, lang: Lang) -> str:
    if isinstance(value, Message):
        return render(value, lang)
    if isinstance(value, Term):
        return TERMS[value.code][lang]
    if isinstance(value, Ratio):
        return f"{number(value.antecedent, lang)}:{number(value.consequent, lang)}"
    if isinstance(value, Join):
        return TERMS[value.sep][lang].join(say(item, lang) for item in value.items)
    if isinstance(value, Decimal):
        return number(value, lang)
    return str(value)  # a year, a version, a text as printed or as entered


def render(message: Message, lang: Lang) -> str:
    """The message in `lang`, every placeholder filled (a missing value raises KeyError)."""
    template = CATALOGUE[message.key][lang]
    return _PLACEHOLDER.sub(lambda m: say(message.params[m.group(1)], lang), template)


def placeholders(key: str, lang: Lang) -> set[str]:
    return set(_PLACEHOLDER.findall(CATALOGUE[key][lang]))


def keys_of(code: str) -> list[str]:
    """The catalogue keys a code reads as: itself, or its variants (`compared` → `compared.increase.met`, ...)."""
    return [k for k in CATALOGUE if k == code or k.startswith(code + ".")]
