"""Policy backtest: replay history under scarce central supply, allocating with each policy.

The central warehouse receives a share (`scarcity`: 70%, 85%, 100%) of the realised demand
of each sku, either every period in step with that period's demand or as a flat weekly plan
with the same total (`PolicyBacktestConfig.supply`); nodes sell min(demand, stock) and
receive shipments after their lead time; every review period a policy splits the central
stock using only forecasts made with data up to the period before (the rolling-origin
backtest's predictions, one cutoff per period, `training.engine.backtest.run_backtest`).
Reported per policy and scarcity: fill rate, lost units, average stock held at the nodes,
centrally and in total, stock left at the nodes at the end, stock-outs, and the supply cap:
(initial + supplied units) / demand, the highest fill rate any policy could reach. Under
scarcity every sensible policy sells nearly all it receives, so fill rates sit just under
the cap and differ by the stock left at the nodes when the replay stops.

`oracle` (`training.policy.oracle`) allocates under the same supply, packs and lead times
with the realised demand known: the ceiling (`fill_bound` on its rows: the solver's upper
bound on any policy's fill rate, above the oracle's where packs left a gap; priority-weighted
with `tiers`). `add_headroom` reports each policy's share of the headroom, (policy - best fair
share) / (oracle - best fair share), for fill rate and for the money cost. Money
(`training.policy.money`): lost margin = unit margin x lost units (the history's `margin`
column per series, else `margin_rate` x price), holding cost =
`holding_rate` per period x the value (price) of the stock held at the end of each period, at
the nodes and centrally (`node_holding_cost` is the nodes' part); `cost` = lost margin +
holding cost. Price per series: the mean of the history's `price` column (the sku's mean
where a series has none; 1 where the data has no prices, i.e. units are money, as on walmart).

channelcast values a shipment for what it can sell after it lands (`lost_sales`, see
`IntervalDemand.served`): the replay loses the sales of an empty node, it does not backorder.

Forecasts per cutoff come by default from the production forecaster's models
(`PRODUCTION_MODELS`: LightGBM, ETS, seasonal naive, moving average, Croston, TSB, per-series
`auto` choice). LightGBM is refitted every `lgbm_refit_every` periods (13: a quarterly
retrain) and forecasts every period in between from that period's features with the last
booster, as a model retrained quarterly and run weekly would (refitting at every weekly cutoff
would take hours on a large channel). `CHEAP_MODELS` is the fast set (no LightGBM, no ETS).
Notes on fairness: all policies see the same forecasts; `fair_share_sales` uses the recorded
sales of the last `sales_window` periods (uncensored on walmart), not the replay's own sales;
node priorities are ignored unless `tiers=True` (tiers trade fill rate for service to the
first tier, which a fill-rate comparison would count against channelcast by design).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import BacktestConfig
from features.engineering.history import Panel, build_panel
from features.periods import period_days
from features.schema import DATE, ITEM, LEAD_TIME, NODE, PRICE, PRIORITY, UNITS
from models.allocation import POLICIES, AllocationConfig, fair_share_packs, pack_problem
from models.allocation.kernel import solve
from models.demand_interval import (
    DEFAULT_CORRELATION,
    DEFAULT_LEVELS,
    IntervalDemand,
    combine_steps,
)
from models.quantiles import quantile_name
from models.zoo import primary_model
from training.engine.backtest import run_backtest
from training.engine.progress import bar
from training.policy.money import HOLDING_RATE, MARGIN_RATE, money_columns, unit_money
from training.policy.oracle import Oracle
from training.policy.sim import Decide, SimInputs, simulate
from training.policy.table import FAIR_SHARE, add_headroom, outcome_row

__all__ = ["BACKTEST_POLICIES", "CHEAP_MODELS", "FAIR_SHARE", "HOLDING_RATE",
           "LGBM_REFIT_EVERY", "MARGIN_RATE", "PRODUCTION_MODELS", "SUPPLY_MODES",
           "PolicyBacktestConfig", "PolicyForecasts", "add_headroom", "policy_forecasts",
           "run_policy_backtest"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CHEAP_MODELS = ("snaive", "ma", "croston", "tsb", "auto")
PRODUCTION_MODELS = ("lgbm", "snaive", "ma", "croston", "tsb", "ets", "auto")
"""The production forecaster's models (what the policy backtest runs by default)."""
LGBM_REFIT_EVERY = 13
"""Periods between LightGBM refits in the replay by default (weekly data: a quarter)."""
SUPPLY_MODES = ("demand", "flat")
BACKTEST_POLICIES = (*POLICIES, "oracle")
"""The allocation policies plus `oracle`, the perfect-foresight ceiling (replay only)."""
MARGIN = "margin"


@dataclass(frozen=True)
class PolicyBacktestConfig:
    """What to replay.

    Attributes:
        start: grid index of the first replayed period (earlier periods are history only).
        review_periods: periods between allocations (all nodes).
        lead_periods: shipment lead time in periods for every node; None takes each node's
            `lead_time_days`, rounded up to whole periods.
        scarcity: central supply as shares of realised demand.
        supply: when the central supply arrives. "demand": every period, `scarcity` x that
            period's realised demand of the sku (supply follows demand week by week, so every
            policy sells nearly all it receives); "flat": a constant supply plan, `scarcity` x
            the sku's mean demand over the replay every period (the same total; peaks are
            short and quiet weeks long, so where stock waits and where it goes matters).
        policies: from `BACKTEST_POLICIES` (`models.allocation.POLICIES` and `oracle`).
        sales_window: periods of recent sales behind `fair_share_sales`.
        models, model: backtest models, and the one whose forecasts the policies use (None:
            `auto` when in `models`, else the first).
        lgbm_refit_every: periods between LightGBM refits when `models` holds lgbm (the
            periods in between forecast with the last booster from their own features).
        warmup: backtest windows before `start` that calibrate the first quantiles.
        correlation: of forecast errors across the steps of a protection interval.
        allocation: channelcast's settings; tiers: use node priorities (tiers, weights).
        lost_sales: channelcast values a shipment for what it can sell after it lands
            (demand before then is lost if the node runs out); False treats the whole
            interval's demand as servable (the backorder view), for comparison.
        margin_rate: unit margin as a share of price where the history has no `margin`.
        holding_rate: holding cost per period as a share of the stock's value (the default,
            0.25 / 52, is 25% a year on weekly data; scale it for other frequencies).
    """

    start: int = 60
    review_periods: int = 1
    lead_periods: int | None = None
    scarcity: tuple[float, ...] = (0.7, 0.85, 1.0)
    supply: str = "demand"
    policies: tuple[str, ...] = BACKTEST_POLICIES
    sales_window: int = 4
    models: tuple[str, ...] = PRODUCTION_MODELS
    model: str | None = None
    warmup: int = 3
    lgbm_refit_every: int = LGBM_REFIT_EVERY
    correlation: float = DEFAULT_CORRELATION
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    tiers: bool = False
    lost_sales: bool = True
    margin_rate: float = MARGIN_RATE
    holding_rate: float = HOLDING_RATE


@dataclass(frozen=True)
class PolicyForecasts:
    """Everything the replay needs that does not depend on the policy.

    Attributes:
        panel: the history as a panel (keys = the series, in prediction order).
        demand: series x periods, the demand the replay serves.
        lead: periods from shipment to arrival, per series.
        steps, means: per replayed period: series x steps x levels quantiles and the means.
        predictions: the backtest's rows of `model` (for calibration checks).
        seconds: wall time of the backtest.
        price, margin: per series, the mean of the history's `price` and `margin` columns
            (NaN where absent); None: no prices known.
    """

    panel: Panel
    demand: FloatArray
    lead: IntArray
    review: int
    start: int
    steps: FloatArray
    means: FloatArray
    predictions: pd.DataFrame
    seconds: float
    price: FloatArray | None = None
    margin: FloatArray | None = None

    @property
    def interval(self) -> IntArray:
        """Protection interval per series in periods: lead + review."""
        return self.lead + self.review

    def demand_at(self, i: int, *, correlation: float, lost_sales: bool = True
                  ) -> IntervalDemand:
        """Protection-interval demand at the i-th replayed period (with its lead-time part
        when `lost_sales`, so that allocation knows what a shipment can still sell)."""
        per = self.interval.astype(float)
        mean, knots, values = combine_steps(self.steps[i], self.means[i],
                                            levels=DEFAULT_LEVELS, periods=per,
                                            correlation=correlation)
        lead = (combine_steps(self.steps[i], self.means[i], levels=DEFAULT_LEVELS,
                              periods=self.lead.astype(float), correlation=correlation)[2]
                if lost_sales else None)
        return IntervalDemand(keys=self.panel.keys, mean=mean, periods=per, levels=knots,
                              values=values, lead=lead)

    def actual_interval(self, i: int) -> FloatArray:
        """Realised demand over each series' interval from the i-th replayed period (NaN
        where the interval runs past the data)."""
        t = self.start + i
        cum = np.concatenate([np.zeros((len(self.demand), 1)),
                              np.cumsum(self.demand, axis=1)], axis=1)
        end = t + self.interval
        ok = end <= self.demand.shape[1]
        out = np.full(len(self.demand), np.nan)
        rows = np.flatnonzero(ok)
        out[rows] = cum[rows, end[rows]] - cum[rows, t]
        return out


def policy_forecasts(history: pd.DataFrame, *, freq: str, nodes: pd.DataFrame,
                     config: PolicyBacktestConfig, demand: pd.DataFrame | None = None,
                     progress: bool = False) -> PolicyForecasts:
    """Backtest forecasts at every replayed period (cutoff = the period before it);
    `progress`: one step per model fitted at each cutoff on stderr."""
    model = config.model or primary_model(config.models)
    if model not in config.models:
        raise ValueError(f"`model` {model!r} is not among the backtest's `models` "
                         f"{list(config.models)}; add it to `models` (--models).")
    panel = build_panel(history, freq=freq)
    t_end = panel.n_periods
    if not config.warmup + 2 <= config.start < t_end - 1:
        raise ValueError(f"`start` must be in {config.warmup + 2}..{t_end - 2} (the grid has "
                         f"{t_end} periods); got {config.start}.")
    lead = _lead_periods(panel, nodes, freq, config.lead_periods)
    horizon = int((lead + config.review_periods).max())
    cuts = list(panel.dates[config.start - 1 - config.warmup: t_end - 1])
    bt = BacktestConfig(horizon=horizon, windows=t_end - config.start, step=1,
                        models=tuple(config.models), quantiles=DEFAULT_LEVELS,
                        warmup=config.warmup, lgbm_refit_every=config.lgbm_refit_every)
    began = time.perf_counter()
    result = run_backtest(history, freq=freq, config=bt, nodes=nodes, cutoffs=cuts,
                          progress=progress, progress_desc="policy forecasts")
    seconds = time.perf_counter() - began
    preds = result.predictions[result.predictions["model"] == model]
    preds = preds.sort_values(["cutoff", NODE, ITEM, "step"], kind="stable")
    n, c = panel.n_series, t_end - config.start
    cols = [quantile_name(q) for q in DEFAULT_LEVELS]
    steps = preds[cols].to_numpy(np.float64).reshape(c, n, horizon, len(cols))
    means = preds["mean"].to_numpy(np.float64).reshape(c, n, horizon)
    return PolicyForecasts(panel=panel, demand=_demand_panel(panel, demand), lead=lead,
                           review=config.review_periods, start=config.start, steps=steps,
                           means=means, predictions=preds.reset_index(drop=True),
                           seconds=seconds, price=_series_mean(history, panel, PRICE),
                           margin=_series_mean(history, panel, MARGIN))


def _series_mean(history: pd.DataFrame, panel: Panel, column: str) -> FloatArray:
    """Mean of `column` per series of the panel (NaN where the column or its values are
    absent)."""
    if column not in history:
        return np.full(panel.n_series, np.nan)
    keys = [history[NODE].astype(str), history[ITEM].astype(str)]
    mean = pd.to_numeric(history[column], errors="coerce").groupby(keys).mean()
    index = pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(str))
    return mean.reindex(index).to_numpy(np.float64)


def _lead_periods(panel: Panel, nodes: pd.DataFrame, freq: str, fixed: int | None) -> IntArray:
    if fixed is not None:
        if fixed < 0:
            raise ValueError(f"`lead_periods` must be >= 0; got {fixed}.")
        return np.full(panel.n_series, fixed, dtype=np.int64)
    days = nodes.set_index(nodes[NODE].astype(str))[LEAD_TIME].astype(float)
    per = panel.keys[NODE].astype(str).map(days)
    if per.isna().any():
        raise ValueError(f"nodes {per[per.isna()].index[:5].tolist()} have no "
                         f"`{LEAD_TIME}`; add them to `nodes`.")
    return np.ceil(per.to_numpy() / period_days(freq) - 1e-9).astype(np.int64)


def _demand_panel(panel: Panel, demand: pd.DataFrame | None) -> FloatArray:
    """Demand per series x period: `demand` (date, node_id, sku, units) if given, else the
    recorded sales; 0 outside a series' rows."""
    if demand is None:
        return np.nan_to_num(panel.units, nan=0.0)
    keys = pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(str))
    s = keys.get_indexer(pd.MultiIndex.from_arrays([demand[NODE].astype(str),
                                                    demand[ITEM].astype(str)]))
    t = panel.dates.get_indexer(pd.DatetimeIndex(demand[DATE]))
    ok = (s >= 0) & (t >= 0)
    out = np.zeros((panel.n_series, panel.n_periods))
    out[s[ok], t[ok]] = demand[UNITS].to_numpy(np.float64)[ok]
    return out


def run_policy_backtest(forecasts: PolicyForecasts, *, nodes: pd.DataFrame,
                        config: PolicyBacktestConfig,
                        pack_sizes: pd.Series | None = None, progress: bool = False
                        ) -> pd.DataFrame:
    """The policy table: one row per scarcity x policy (see `outcome_row` for the columns, and
    `add_headroom`); `progress`: one step per replayed period on stderr."""
    f = forecasts
    group_codes, skus = pd.factorize(f.panel.keys[ITEM].astype(str))
    group = group_codes.astype(np.int64)
    pack = (pack_sizes.reindex(skus).fillna(1).to_numpy(np.float64) if pack_sizes is not None
            else np.ones(len(skus)))
    priority = (f.panel.keys[NODE].astype(str).map(nodes.set_index(NODE)[PRIORITY])
                .fillna(1).to_numpy(np.int64) if config.tiers else np.ones(len(group), np.int64))
    _check(config)
    money = unit_money(f.price, f.margin, group=group, n_skus=len(skus),
                       margin_rate=config.margin_rate)
    dists = [f.demand_at(i, correlation=config.correlation, lost_sales=config.lost_sales)
             for i in range(f.means.shape[0])]
    demand, first, per_sku = _supply_basis(f, group, len(skus), config.supply)
    rows = []
    runs = len(config.scarcity) * len(config.policies)
    with bar(desc="policy replay", total=runs * demand.shape[1], enabled=progress,
             unit="period") as shown:
        for share in config.scarcity:
            supply = share * per_sku
            initial = share * first
            inputs = SimInputs(demand=demand, group=group, lead=f.lead, review=f.review,
                               supply=supply, initial=initial)
            plans: list[FloatArray] = []
            order = sorted(config.policies, key=lambda p: p == "oracle")  # the oracle last
            for policy in order:
                shown.set_postfix_str(f"scarcity {share:g} {policy}", refresh=False)
                began = time.perf_counter()
                if policy == "oracle":
                    decide: Decide = Oracle(inputs, pack=pack, weight=_weights(priority, config),
                                            candidates=tuple(plans))
                else:
                    plans.append(np.zeros_like(demand))
                    decide = _recorded(_decider(policy, dists=dists, group=group, pack=pack,
                                                priority=priority, forecasts=f, config=config),
                                       plans[-1])
                outcome = simulate(inputs, decide=decide,
                                   on_period=shown.update if progress else None)
                row = outcome_row(share, policy, outcome, time.perf_counter() - began)
                row |= money_columns(outcome, money, holding_rate=config.holding_rate)
                row["fill_bound"] = (decide.bound / max(outcome.demand, 1e-12)
                                     if isinstance(decide, Oracle) else np.nan)
                row["supply"] = config.supply
                row["supply_cap"] = (initial.sum() + supply.sum()) / max(outcome.demand, 1e-12)
                rows.append(row)
    table = pd.DataFrame(rows)
    rank = {p: i for i, p in enumerate(config.policies)}
    table = table.sort_values(["scarcity", "policy"], key=lambda c: c.map(rank)
                              if c.name == "policy" else c, kind="stable")
    return add_headroom(table)


def _check(config: PolicyBacktestConfig) -> None:
    if config.supply not in SUPPLY_MODES:
        raise ValueError(f"`supply` must be one of {SUPPLY_MODES}; got {config.supply!r}.")
    unknown = [p for p in config.policies if p not in BACKTEST_POLICIES]
    if unknown:
        raise ValueError(f"`policies` must be from {list(BACKTEST_POLICIES)}; got {unknown}.")
    if config.holding_rate < 0:
        raise ValueError(f"`holding_rate` must be >= 0; got {config.holding_rate}.")


def _supply_basis(f: PolicyForecasts, group: IntArray, n_skus: int, mode: str
                  ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The replayed demand (series x periods), each series' demand over its first interval
    (the initial stock at full supply) and the central receipts per sku x period at full
    supply: in step with demand, or its mean every period (`flat`)."""
    demand = f.demand[:, f.start:]
    first = np.cumsum(demand, axis=1)[np.arange(len(group)), f.interval - 1]
    per_sku = np.vstack([np.bincount(group, weights=demand[:, t], minlength=n_skus)
                         for t in range(demand.shape[1])]).T.astype(np.float64, copy=False)
    if mode == "flat":
        per_sku = np.repeat(per_sku.mean(axis=1, keepdims=True, dtype=np.float64),
                            per_sku.shape[1], axis=1)
    return demand, first, per_sku


def _recorded(decide: Decide, plan: FloatArray) -> Decide:
    """`decide`, writing what it ships at period t into `plan[:, t]`."""

    def recording(t: int, position: FloatArray, central: FloatArray) -> FloatArray:
        ship = np.maximum(np.asarray(decide(t, position, central), dtype=np.float64), 0.0)
        plan[:, t] = ship
        return ship

    return recording


def _weights(priority: IntArray, config: PolicyBacktestConfig) -> FloatArray:
    """Per series: the allocation's priority weight (1 / priority unless configured)."""
    given = config.allocation.priority_weights or {}
    return np.array([given.get(int(p), 1.0 / p) for p in priority], dtype=np.float64)


def _decider(policy: str, *, dists: Sequence[IntervalDemand], group: IntArray,
             pack: FloatArray, priority: IntArray, forecasts: PolicyForecasts,
             config: PolicyBacktestConfig) -> Decide:
    """The policy as a function of (period, positions, central stock) -> units shipped."""
    history = np.nan_to_num(forecasts.panel.units, nan=0.0)
    row_pack = pack[group]

    def decide(t: int, position: FloatArray, central: FloatArray) -> FloatArray:
        budget = np.floor(central / pack + 1e-9).astype(np.int64)
        p = pack_problem(dists[t], group=group, position=position, pack=row_pack,
                         lo=np.zeros(len(group), np.int64), hi=budget[group],
                         priority=priority, budget=budget, config=config.allocation)
        if policy == "channelcast":
            return solve(p).packs * row_pack
        if policy == "fair_share_forecast":
            return fair_share_packs(p, basis=dists[t].mean) * row_pack
        now = forecasts.start + t
        recent = history[:, max(now - config.sales_window, 0): now].mean(axis=1)
        return fair_share_packs(p, basis=recent * forecasts.interval) * row_pack

    if policy not in POLICIES:
        raise ValueError(f"`policies` must be from {list(BACKTEST_POLICIES)}; got {policy!r}.")
    return decide
