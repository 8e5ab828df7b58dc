"""The achievement answers in Kazakh and Russian: the same figures, the same reason codes, one catalogue.

The worked examples take the targets as loaded from the Concept (section 6 and the action plan header) and the
actuals of the test set, and write the expected sentence here, word for word, with the numbers as Kazakh and
Russian texts print them (`165,2`, `1 234,5`).
"""

import re
from decimal import Decimal
from typing import Any

from httpx import AsyncClient

from services.api.achievement.rules import Actual, Printed, Reason, Rule, Trend, evaluate, trend
from services.api.achievement.words import CATALOGUE, LANGS, TERMS, Message, keys_of, placeholders, render
from services.common.models.achievement import ActualKind, MissingRule, RatioComparison
from services.common.models.registry import DesiredDirection, MeasurementFrequency, TargetKind, TargetSource
from tests.achievement.test_achievement import actuals_set, direction_of, ids, printed, put_rule, upload, year_answers

LOCAL = ("kk", "ru")


def said(value: Decimal) -> str:
    """The test's own reading of a number in Kazakh and Russian: no trailing zeros, a decimal comma, thousands
    separated by a space."""
    whole, _, fraction = f"{value.normalize():f}".partition(".")
    groups = re.sub(r"(?<=\d)(?=(\d{3})+$)", " ", whole)
    return groups + ("," + fraction if fraction else "")


def test_the_test_reads_numbers_as_the_documents_print_them() -> None:
    assert [said(Decimal(x)) for x in ("165.20", "1234.5", "1000000", "0.24", "7")] == [
        "165,2",
        "1 234,5",
        "1 000 000",
        "0,24",
        "7",
    ]


# --- the catalogue --------------------------------------------------------------------------------------------


def test_every_reason_and_trend_code_has_english_kazakh_and_russian_text() -> None:
    for code in [*Reason, *Trend]:
        keys = keys_of(code.value)
        assert keys, f"{code} has no text"
        for key in keys:
            texts = CATALOGUE[key]
            assert set(texts) == set(LANGS), key
            assert all(texts[lang].strip() for lang in LANGS), key
            # Said in the language, not copied from English.
            assert texts["kk"] != texts["en"] and texts["ru"] != texts["en"] and texts["kk"] != texts["ru"], key
            assert re.search("[а-яё]", texts["ru"]) and re.search("[әғқңөұүһі]", texts["kk"]), key
            # The same figures in both local languages, none that English does not have.
            assert placeholders(key, "kk") == placeholders(key, "ru") <= placeholders(key, "en"), key
    # `compared` reads as met and missed for each direction.
    assert sorted(keys_of("compared")) == sorted(
        f"compared.{d.value}.{m}" for d in DesiredDirection for m in ("met", "missed")
    )
    for code in [
        "achieved",
        "not_achieved",
        "not_evaluable",
        "ambiguous",
        *(d.value for d in DesiredDirection),
        *(s.value for s in TargetSource),
    ]:
        assert set(TERMS[code]) == set(LANGS), code


def _rule(direction: DesiredDirection, **kw: Any) -> Rule:
    values: dict[str, Any] = {
        "version": 0,
        "direction": direction,
        "tolerance": None,
        "ratio_comparison": RatioComparison.quotient,
        "target_years": None,
        "missing_rule": MissingRule.not_evaluable,
    }
    return Rule(**{**values, **kw})


def _printed(value: str, source: TargetSource = TargetSource.section6) -> Printed:
    if ":" in value:
        a, b = value.split(":")
        return Printed(source, TargetKind.ratio, Decimal(a), Decimal(b), value.replace(".", ","))
    return Printed(source, TargetKind.value, Decimal(value), None, value.replace(".", ","))


def _value(value: str) -> Actual:
    if ":" in value:
        a, b = value.split(":")
        return Actual(ActualKind.ratio, Decimal(a), Decimal(b))
    return Actual(ActualKind.value, Decimal(value), None)


def test_every_reason_is_said_with_every_placeholder_filled() -> None:
    inc, dec, hold = DesiredDirection.increase, DesiredDirection.decrease, DesiredDirection.hold
    annual, biennial = MeasurementFrequency.annual, MeasurementFrequency.biennial
    dash = Printed(TargetSource.section6, TargetKind.dash, None, None, "-")
    cases = [
        evaluate(2026, [_printed("1234.5")], _value("1300"), _rule(inc), [2026], annual),
        evaluate(2026, [_printed("1234.5")], _value("1200"), _rule(dec), [2026], annual),
        evaluate(2026, [_printed("37.8")], _value("36.29"), _rule(hold, tolerance=Decimal(2)), [2026], annual),
        evaluate(2026, [_printed("37.8")], _value("36.29"), _rule(hold, tolerance=Decimal(1)), [2026], annual),
        evaluate(2026, [_printed("37.8")], _value("36.29"), _rule(hold), [2026], annual),
        evaluate(2026, [_printed("2.2:1")], _value("4.2:2"), _rule(inc), [2026], annual),
        evaluate(
            2027,
            [_printed("2.2:1")],
            _value("4.2:2"),
            _rule(inc, ratio_comparison=RatioComparison.antecedent),
            [2027],
            annual,
        ),
        evaluate(2026, [_printed("19.5")], None, _rule(dec, target_years=[2029]), [2029], annual),
        evaluate(2027, [_printed("80")], None, _rule(inc), [2026, 2028], biennial),
        evaluate(2026, [dash], None, _rule(inc), [], annual),
        evaluate(2026, [_printed("19.5")], None, _rule(dec), [2026], annual),
        evaluate(
            2026,
            [_printed("19.5")],
            Actual(ActualKind.no_data, None, None, "зерттеу жүргізілмеді"),
            _rule(dec, missing_rule=MissingRule.not_achieved),
            [2026],
            annual,
        ),
        evaluate(
            2024,
            [_printed("100"), _printed("95", TargetSource.action_plan_header)],
            _value("97"),
            _rule(inc),
            [2024],
            annual,
        ),
    ]
    reasons = {c.reason for c in cases} | {t.reason for c in cases for t in c.targets}
    assert reasons == set(Reason)
    messages: list[Message] = [c.words for c in cases]
    for points in ([], [(2025, _value("19")), (2026, _value("19.0"))]):
        messages.append(trend(points, dec)[1])
    messages += [trend([(2025, _value("19")), (2026, _value("18.5"))], d)[1] for d in (inc, dec, DesiredDirection.hold)]
    for message in messages:
        for lang in LANGS:
            text = render(message, lang)
            assert text and "{" not in text and "}" not in text, (lang, text)
    # A thousand is grouped, the decimal is a comma: in both local languages, never in the English.
    [first] = cases[0].targets
    assert "1 234,5" in render(first.words, "kk") and "1 234,5" in render(first.words, "ru")
    assert "1234.5" in first.explanation


# --- worked examples from the Concept ---------------------------------------------------------------------


async def test_decrease_indicator_in_kazakh_and_russian(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    """Indicator 20 (deaths from diseases of the circulatory system, to be lowered) in 2026: both sources print one
    figure; and indicator 34 (tuberculosis), whose actual is above its target."""
    assert (await upload(api, auth)).status_code == 200
    data = actuals_set()
    answers = await year_answers(api, 2026)
    for number in (20, 34):
        assert await direction_of(raw_connection, number) == "decrease"
        rows = await printed(raw_connection, number, 2026)
        assert rows["section6"]["value"] == rows["action_plan_header"]["value"]
        target = rows["section6"]["value"]
        actual = Decimal(data[(number, 2026)]["value"])
        met = actual <= target
        t, a = said(target), said(actual)
        answer = answers[number]
        assert answer["status"] == ("achieved" if met else "not_achieved")
        [one] = answer["targets"]
        if met:
            kk = f"төмендету: нақты мән ({a}) нысаналы мәннен ({t}) аспайды, нысаналы мәнге қол жеткізілді"
            ru = f"снижение: фактическое значение ({a}) не выше целевого ({t}), целевое значение достигнуто"
        else:
            kk = f"төмендету: нақты мән ({a}) нысаналы мәннен ({t}) жоғары, нысаналы мәнге қол жеткізілмеді"
            ru = f"снижение: фактическое значение ({a}) выше целевого ({t}), целевое значение не достигнуто"
        assert one["explanation_kk"] == f"нысаналы мән {t} (6-бөлім және іс-қимыл жоспары): {kk}"
        assert one["explanation_ru"] == f"целевое значение {t} (раздел 6 и план действий): {ru}"
        verdict_kk, verdict_ru = ("орындалды", "достигнут") if met else ("орындалмады", "не достигнут")
        assert answer["explanation_kk"] == (
            f"2026 жыл: {one['explanation_kk']}; қорытынды: индикатор {verdict_kk} (ереженің 0-нұсқасы)"
        )
        assert answer["explanation_ru"] == (
            f"2026 год: {one['explanation_ru']}; итог: индикатор {verdict_ru} (правило, версия 0)"
        )
        # The English stays as it was.
        op = "true" if met else "false"
        assert (
            f"decrease: actual {actual.normalize():f} <= target {target.normalize():f} is {op}"
            in (answer["explanation"])
        )
    # The trend of indicator 20, in words: its last two accepted figures.
    figures = sorted((y, Decimal(r["value"])) for (n, y), r in data.items() if n == 20 and r["value"])
    (y0, v0), (y1, v1) = figures[-2:]
    assert v1 < v0  # lower is better
    r = await api.get(f"/api/v1/indicators/{(await ids(raw_connection))[20]}/achievement")
    trajectory = r.json()
    assert trajectory["trend"] == "improving"
    assert trajectory["trend_explanation_kk"] == (
        f"{y0}: {said(v0)} → {y1}: {said(v1)}, жақсару (қажетті бағыт: төмендету)"
    )
    assert trajectory["trend_explanation_ru"] == (
        f"{y0}: {said(v0)} → {y1}: {said(v1)}, улучшение (желаемое направление: снижение)"
    )
    year = next(y for y in trajectory["years"] if y["year"] == 2026)
    assert year["explanation_kk"] == answers[20]["explanation_kk"]


async def test_hold_indicator_without_tolerance_in_kazakh_and_russian(
    api: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    """Indicator 5 (childhood obesity, to be held): the Concept gives no tolerance, so 2026 is not judged; once the
    ministry sets one narrower than the gap, the words say by how much it is missed."""
    assert (await upload(api, auth)).status_code == 200
    assert await direction_of(raw_connection, 5) == "hold"
    target = (await printed(raw_connection, 5, 2026))["section6"]["value"]
    actual = Decimal(actuals_set()[(5, 2026)]["value"])
    t, a = said(target), said(actual)
    answer = (await year_answers(api, 2026))[5]
    assert (answer["status"], answer["reason"]) == ("not_evaluable", "hold_without_tolerance")
    assert answer["explanation_kk"] == (
        f"2026 жыл: нысаналы мән {t} (6-бөлім және іс-қимыл жоспары): индикаторды {t} деңгейінде ұстап тұру "
        f"көзделген; рұқсат етілген ауытқу белгіленбеген (құжатта ол берілмеген), сондықтан нақты мән ({a}) "
        "бағаланбайды; қорытынды: индикатор бағаланбайды (ереженің 0-нұсқасы)"
    )
    assert answer["explanation_ru"] == (
        f"2026 год: целевое значение {t} (раздел 6 и план действий): индикатор должен удерживаться на уровне {t}; "
        f"допустимое отклонение не установлено (в документе его нет), поэтому фактическое значение ({a}) не "
        "оценивается; итог: индикатор не оценивается (правило, версия 0)"
    )
    gap = abs(actual - target)
    tolerance = gap - Decimal("0.01")
    await put_rule(api, auth, (await ids(raw_connection))[5], tolerance=str(tolerance))
    [one] = (await year_answers(api, 2026))[5]["targets"]
    assert one["explanation_kk"].endswith(
        f"ұстап тұру: нақты мән ({a}) мен нысаналы мәннің ({t}) айырмасы {said(gap)}, бұл рұқсат етілген "
        f"ауытқудан ({said(tolerance)}) асады, нысаналы мәнге қол жеткізілмеді"
    )
    assert one["explanation_ru"].endswith(
        f"удержание: фактическое значение ({a}) отличается от целевого ({t}) на {said(gap)}, это больше "
        f"допустимого отклонения ({said(tolerance)}), целевое значение не достигнуто"
    )


async def test_two_target_year_in_kazakh_and_russian(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    """Indicator 46 in 2024: section 6 prints one figure, the action plan another; the actual lies between them,
    so each language names both and does not say which holds."""
    assert (await upload(api, auth)).status_code == 200
    assert await direction_of(raw_connection, 46) == "increase"
    rows = await printed(raw_connection, 46, 2024)
    s6, plan = rows["section6"], rows["action_plan_header"]
    actual = Decimal(actuals_set()[(46, 2024)]["value"])
    assert plan["value"] <= actual < s6["value"]  # the test set puts it between the two
    a, t6, tp = said(actual), said(s6["value"]), said(plan["value"])
    answer = (await year_answers(api, 2024))[46]
    assert (answer["status"], answer["two_targets"]) == ("ambiguous", True)
    assert answer["explanation_kk"] == (
        f"2024 жыл: құжатта екі нысаналы мән көрсетілген (6-бөлім бойынша: {s6['printed']}; іс-қимыл жоспары "
        f"бойынша: {plan['printed']}); қайсысы қолданылатыны мұнда шешілмейді; "
        f"нысаналы мән {t6} (6-бөлім): арттыру: нақты мән ({a}) нысаналы мәннен ({t6}) төмен, нысаналы мәнге қол "
        f"жеткізілмеді; нысаналы мән {tp} (іс-қимыл жоспары): арттыру: нақты мән ({a}) нысаналы мәннен ({tp}) кем "
        "емес, нысаналы мәнге қол жеткізілді; нәтижелер әртүрлі, сондықтан жылдың қорытындысы екіұшты "
        "(ереженің 0-нұсқасы)"
    )
    assert answer["explanation_ru"] == (
        f"2024 год: в документе указаны два целевых значения (раздел 6: {s6['printed']}; план действий: "
        f"{plan['printed']}); какое из них действует, здесь не решается; "
        f"целевое значение {t6} (раздел 6): увеличение: фактическое значение ({a}) ниже целевого ({t6}), целевое "
        f"значение не достигнуто; целевое значение {tp} (план действий): увеличение: фактическое значение ({a}) не "
        f"ниже целевого ({tp}), целевое значение достигнуто; результаты расходятся, поэтому итог года "
        "неоднозначен (правило, версия 0)"
    )
    by_source = {t["sources"][0]: t for t in answer["targets"]}
    assert by_source["section6"]["explanation_ru"].startswith(f"целевое значение {t6} (раздел 6): ")
    assert "which holds is not decided here" in answer["explanation"]
