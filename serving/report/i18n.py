"""The report's words in English and Chinese, and numbers formatted for the language (Babel)."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

__all__ = ["LANGS", "Words", "words"]

LANGS = ("en", "zh")
_LOCALE = {"en": "en_US", "zh": "zh_Hans_CN"}

_EN = {
    "title": "Monthly channel report", "generated": "Generated from", "series": "series",
    "nodes": "nodes", "headline": "Headline", "units": "Sell-through units",
    "value": "Sell-through value", "vs_prev": "vs previous month",
    "vs_ly": "vs same month last year",
    "sell_in_ratio": "Sell-in / sell-through", "cover": "Weeks of cover",
    "stockouts": "Stock-out rate", "lost": "Estimated lost sales (units)",
    "wape": "Forecast error (WAPE)", "bias": "Forecast bias",
    "per_channel": "Per channel", "per_parent": "Per parent node", "channel": "Channel",
    "parent": "Parent", "node": "Node", "growth_top": "Top 10 nodes by growth",
    "growth_bottom": "Bottom 10 nodes by growth", "health_top": "Top 10 nodes by health index",
    "health_bottom": "Bottom 10 nodes by health index", "score": "Index", "grade": "Grade",
    "change": "Change", "why": "Explanation", "alerts": "Alerts of the month",
    "kind": "Kind", "total": "Total", "band_title": "Forecast vs actual per channel",
    "actual": "Actual", "forecast": "Forecast", "band": "80% band", "inside": "In band",
    "decisions": "Allocations and decisions", "no_db": "No service database given "
    "(--database-url): allocations and decisions are not shown.",
    "no_decisions": "No allocation was proposed in this month.", "sku": "Item",
    "status": "Status", "proposed": "Proposed", "approved": "Approved", "decided_by": "Decided by",
    "fill": "Realised fill", "outlook": "Outlook", "next_month": "Forecast for",
    "risk": "Top of the stock-risk list at the month's end", "p_stockout": "P(stock-out)",
    "lost_units": "Expected lost units", "on_hand": "On hand", "risk_class": "Risk",
    "methods": "Methods: KPI definitions", "health_components": "Health index components",
    "forecast_source": "Forecasts: the channel monitor's one-step expectation per series "
    "(models.monitor), summed per channel; the band sums the series' errors as independent.",
    "outlook_source": "Outlook: each series' moving average of the last 8 weeks with the "
    "monitor's error scale; stock risk from on_hand at the month's end (models.risk).",
    "yes": "yes", "no": "no", "none": "none", "points": "points",
    "up": "up", "down": "down", "flat": "flat",
    "summary1": "In {month} the channel sold {units} units{value}, {prev} on {prev_month} "
    "and {ly} on {ly_month}.",
    "summary2": "Stock ended at {cover} weeks of cover with a stock-out rate of {so} "
    "(about {lost} units of lost sales), and the forecast error (WAPE) was {wape}.",
    "worth": " worth {value}",
    "no_comparison": "no comparison",
}
_ZH = {
    "title": "渠道月度报告", "generated": "数据来源", "series": "个序列", "nodes": "个网点",
    "headline": "概要", "units": "动销数量", "value": "动销金额", "vs_prev": "环比",
    "vs_ly": "同比", "sell_in_ratio": "进货 / 动销", "cover": "库存周数",
    "stockouts": "缺货率", "lost": "估计缺货损失（件）", "wape": "预测误差（WAPE）",
    "bias": "预测偏差", "per_channel": "按渠道", "per_parent": "按上级网点", "channel": "渠道",
    "parent": "上级网点", "node": "网点", "growth_top": "增长最快的10个网点",
    "growth_bottom": "增长最慢的10个网点", "health_top": "健康指数最高的10个网点",
    "health_bottom": "健康指数最低的10个网点", "score": "指数", "grade": "等级",
    "change": "变化", "why": "说明", "alerts": "本月预警", "kind": "类型", "total": "合计",
    "band_title": "各渠道预测与实际", "actual": "实际", "forecast": "预测",
    "band": "80% 区间", "inside": "在区间内", "decisions": "分货与决策",
    "no_db": "未提供服务数据库（--database-url），不显示分货与决策。",
    "no_decisions": "本月没有分货提案。", "sku": "商品", "status": "状态", "proposed": "提案",
    "approved": "批准", "decided_by": "决策人", "fill": "实际满足率", "outlook": "展望",
    "next_month": "预测月份", "risk": "月末缺货风险最高的网点商品", "p_stockout": "缺货概率",
    "lost_units": "预计缺货损失（件）", "on_hand": "库存", "risk_class": "风险",
    "methods": "方法：指标定义", "health_components": "健康指数组成",
    "forecast_source": "预测：渠道监控（models.monitor）对每个序列的一步预期，按渠道汇总；"
    "区间按各序列误差独立合成。",
    "outlook_source": "展望：每个序列最近8周的移动平均，误差尺度取自渠道监控；"
    "缺货风险基于月末库存（models.risk）。",
    "yes": "是", "no": "否", "none": "无", "points": "分", "up": "增长", "down": "下降",
    "flat": "持平",
    "summary1": "{month}渠道共动销{units}件{value}，环比（{prev_month}）{prev}，"
    "同比（{ly_month}）{ly}。",
    "summary2": "月末库存可支撑{cover}周，缺货率{so}（估计损失约{lost}件），"
    "预测误差（WAPE）为{wape}。",
    "worth": "，金额{value}",
    "no_comparison": "无可比数据",
}
_KINDS = {
    "zh": {"demand_drop": "需求下滑", "demand_spike": "需求激增", "channel_stuffing": "渠道压货",
           "stock_mismatch": "库存不平", "reporting_gap": "未上报", "open": "未处理",
           "acknowledged": "已确认", "closed": "已关闭", "total": "合计", "critical": "严重",
           "high": "高", "medium": "中", "low": "低", "approved": "已批准",
           "proposed": "待批准", "overridden": "已修改",
           "growth_vs_forecast": "相对预测增长", "sell_through_rate": "动销率",
           "cover_band": "库存周数区间", "availability": "有货率", "stuffing": "压货",
           "forecast_bias": "预测偏差", "data_quality": "数据质量", "open_alerts": "未处理预警"},
}
_EXPLAIN = {"zh": {"fell most: ": "降幅最大：", "weakest: ": "最弱：", "; ": "；"}}
# The methods appendix in Chinese: KPI and health-component definitions of models.monitor's
# docstring tables (English there); a name missing here keeps the English definition.
_DEFINE = {"zh": {
    "sell_through_units": "当月售出给终端客户的件数",
    "sell_through_value": "件数 × 价格之和（无价格时为空）",
    "growth_vs_prev_pct": "每期件数与上月每期件数相比，%",
    "growth_vs_last_year_pct": "每期件数与去年同月每期件数相比，%",
    "sell_through_rate": "件数 / (月初库存 + 当月进货)",
    "weeks_of_cover": "月末库存 / 当月每周件数",
    "inventory_turnover": "件数 / 每期平均库存，按年折算（每年周转次数）",
    "stockout_rate": "已报告期间中期末库存为 0 且当期或前期有销售的比例",
    "sell_in_to_sell_through_ratio": "进货件数 / 售出件数",
    "forecast_units": "当月件数的预测（有 forecasts 时用之，否则为监控的一步预期）",
    "forecast_error_wape": "Σ|件数 − 预测| / Σ件数",
    "forecast_bias_pct": "(Σ预测 − Σ件数) / Σ件数，%",
    "growth_vs_forecast_pct": "(件数 − 预测) / 预测，%",
    "stock_balance_breaks": "库存余额不平衡的期数（期末库存 ≠ 上期库存 + 进货 − 销售，见预警）",
    "periods_missing": "首次报告之后当月缺少数据的期数（节点：其所有系列均未报告）",
    "health.growth_vs_forecast": "growth_vs_forecast_pct | 销量 ≥ 预测 | 低于预测 50% | 0.20",
    "health.sell_through_rate": "sell_through_rate | ≥ 自身 12 个月中位数 | 0 | 0.10",
    "health.cover_band": "weeks_of_cover | 在自身 12 个月区间内（10-90%） | 超出区间 2 倍 | 0.15",
    "health.availability": "stockout_rate | 无缺货 | 20% 的系列期缺货 | 0.15",
    "health.stuffing": "sell_in_to_sell_through_ratio | ≤ 1.1 | ≥ 2.0 | 0.15",
    "health.forecast_bias": "forecast_bias_pct | 0 | ±50% | 0.05",
    "health.data_quality": "stock_balance_breaks + periods_missing | 0 | 每次 ×0.25 | 0.10",
    "health.open_alerts": "当月中等及以上的预警 | 0 | 每条 ×0.7 | 0.10",
    "lost_units": "当月期末库存为 0 的各期中（监控预期件数 − 实际售出件数）之和，仅计正值",
}, "en": {
    "lost_units": "sum over the month's periods ending with on_hand 0 of (monitor's expected "
                  "units - units sold), where positive",
}}
_COMPONENT = re.compile(r"(?<=: )[a-z_]+")


class Words:
    """Labels and number formats of one language."""

    def __init__(self, lang: str) -> None:
        """Refuse a language without a catalogue."""
        if lang not in LANGS:
            raise ValueError(f"`lang` must be one of {', '.join(LANGS)}; got {lang!r}.")
        self.lang = lang
        self.locale = _LOCALE[lang]
        self.table = _ZH if lang == "zh" else _EN

    def __call__(self, key: str) -> str:
        """The label `key` in this language."""
        return self.table[key]

    def term(self, name: str) -> str:
        """An alert kind or status in this language (the identifier in English)."""
        return _KINDS.get(self.lang, {}).get(name, name.replace("_", " "))

    def define(self, name: str, text: str) -> str:
        """The methods appendix's definition of `name` (a health component's as
        `health.NAME`) in this language (else `text`)."""
        return _DEFINE.get(self.lang, {}).get(name, text)

    def explain(self, text: str) -> str:
        """A health explanation (`models.monitor.health`: "fell most: X; weakest: Y") in
        this language, its component names as `term` writes them."""
        text = _COMPONENT.sub(lambda m: self.term(m.group(0)), text)
        for english, local in _EXPLAIN.get(self.lang, {}).items():
            text = text.replace(english, local)
        return text

    def num(self, value: Any, digits: int = 0) -> str:
        """A number with grouping, `digits` decimals; an en dash when unknown."""
        if not _known(value):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return str(format_decimal(float(value), format=pattern, locale=self.locale))

    def pct(self, value: Any, digits: int = 1, *, signed: bool = False) -> str:
        """A percentage given in percent points (12.5 -> 12.5%)."""
        if not _known(value):
            return "–"
        value = round(float(value), digits) + 0.0  # no "-0.0%"
        if value == 0:
            value = 0.0
        pattern = ("+" if signed else "") + "#,##0." + "0" * digits + "%"
        if signed:
            pattern = f"{pattern};-#,##0.{'0' * digits}%"
        return str(format_percent(float(value) / 100, format=pattern, locale=self.locale))

    def share(self, value: Any, digits: int = 1) -> str:
        """A share 0..1 as a percentage."""
        return self.pct(float(value) * 100 if _known(value) else value, digits)

    def month(self, month: str) -> str:
        """YYYY-MM as the language writes a month."""
        day = pd.Period(month, freq="M").start_time.date()
        return str(format_date(day, format="yyyy年M月" if self.lang == "zh" else "MMMM yyyy",
                               locale=self.locale))

    def day(self, when: object) -> str:
        """A date as the language writes it (short)."""
        return str(format_date(pd.Timestamp(when).date(), format="medium", locale=self.locale))


def _known(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def words(lang: str) -> Words:
    """The `Words` of `lang` (en or zh)."""
    return Words(lang)
