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
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import BacktestConfig
from features.engineering.history import Panel, build_panel
from features.schema import ITEM, NODE, PRICE, PRIORITY
from models.allocation import OBJECTIVES, POLICIES, AllocationConfig
from models.allocation.planned import channelcast_demand
from models.allocation.pooled import POOLED_WEIGHT
from models.allocation.ranking import RANKING_DISPERSION
from models.demand_interval import (
    DEFAULT_CORRELATION,
    DEFAULT_LEVELS,
    IntervalDemand,
    demand_from_steps,
)
from models.quantiles import quantile_name
from models.zoo import primary_model
from training.engine.backtest import run_backtest
from training.engine.progress import bar
from training.policy.deciders import PolicyInputs, decider, priority_weights, recorded
from training.policy.inputs import demand_panel, lead_periods_of, series_mean
from training.policy.money import HOLDING_RATE, MARGIN_RATE, UnitMoney, money_columns, unit_money
from training.policy.oracle import Oracle
from training.policy.pooled import pooled_scale
from training.policy.promo import promo_scale
from training.policy.sim import Decide, SimInputs, simulate
from training.policy.table import FAIR_SHARE, add_headroom, outcome_row

__all__ = ["BACKTEST_POLICIES", "CHEAP_MODELS", "FAIR_SHARE", "HOLDING_RATE",
           "LGBM_REFIT_EVERY", "MARGIN_RATE", "PRODUCTION_MODELS", "SUPPLY_MODES",
           "PolicyBacktestConfig", "PolicyForecasts", "ReplaySetup", "add_headroom",
           "policy_forecasts", "replay_setup", "run_policy_backtest"]

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
        objective: channelcast's ("profit": a pack stays central when its expected margin is
            below its holding cost over the interval at every node; "units").
        planned_promotions: channelcast scales promoted periods by the forecasts' promotion
            lift (`training.policy.promo`); fair share by forecast keeps the forecasts.
        pooled_weight: how far channelcast moves each interval mean towards the pooled rate
            (the sku's recent level x the node's share, `training.policy.pooled`); 0: not.
        ranking_dispersion: channelcast's first stage places packs on gammas of this
            dispersion (`models.allocation.ranking`); None: on the forecast's steps combined
            as independent (`IntervalDemand.ranking`).
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
    objective: str = "units"
    planned_promotions: bool = True
    pooled_weight: float = POOLED_WEIGHT
    ranking_dispersion: float | None = RANKING_DISPERSION


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
        return demand_from_steps(self.panel.keys, self.steps[i], self.means[i],
                                 levels=DEFAULT_LEVELS, periods=self.interval.astype(float),
                                 lead=self.lead.astype(float) if lost_sales else None,
                                 correlation=correlation)

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
    lead = lead_periods_of(panel, nodes, freq, config.lead_periods)
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
    return PolicyForecasts(panel=panel, demand=demand_panel(panel, demand), lead=lead,
                           review=config.review_periods, start=config.start, steps=steps,
                           means=means, predictions=preds.reset_index(drop=True),
                           seconds=seconds, price=series_mean(history, panel, PRICE),
                           margin=series_mean(history, panel, MARGIN))


@dataclass(frozen=True)
class ReplaySetup:
    """What every replay of one forecast set shares: the series' sku (`group`), packs per
    sku, money per unit, the replayed demand, the first interval's demand (initial stock at
    full supply), the central receipts per sku x period at full supply and the policies'
    inputs."""

    group: IntArray
    pack: FloatArray
    money: UnitMoney
    demand: FloatArray
    first: FloatArray
    per_sku: FloatArray
    policy: PolicyInputs

    def sim_inputs(self, share: float, review: int, lead: IntArray) -> SimInputs:
        """The channel at supply `share` of demand."""
        return SimInputs(demand=self.demand, group=self.group, lead=lead, review=review,
                         supply=share * self.per_sku, initial=share * self.first)


def replay_setup(forecasts: PolicyForecasts, *, nodes: pd.DataFrame,
                 config: PolicyBacktestConfig, pack_sizes: pd.Series | None = None
                 ) -> ReplaySetup:
    """The shared parts of the replays of `forecasts` under `config` (checks `config`)."""
    f = forecasts
    _check(config)
    group_codes, skus = pd.factorize(f.panel.keys[ITEM].astype(str))
    group = group_codes.astype(np.int64)
    pack = (pack_sizes.reindex(skus).fillna(1).to_numpy(np.float64) if pack_sizes is not None
            else np.ones(len(skus)))
    priority = (f.panel.keys[NODE].astype(str).map(nodes.set_index(NODE)[PRIORITY])
                .fillna(1).to_numpy(np.int64) if config.tiers else np.ones(len(group), np.int64))
    money = unit_money(f.price, f.margin, group=group, n_skus=len(skus),
                       margin_rate=config.margin_rate)
    dists = [f.demand_at(i, correlation=config.correlation, lost_sales=config.lost_sales)
             for i in range(f.means.shape[0])]
    demand, first, per_sku = _supply_basis(f, group, len(skus), config.supply)
    ratio = (config.holding_rate * money.price / np.maximum(money.margin, 1e-12)
             if config.objective == "profit" else None)
    promo = (promo_scale(f.panel, f.means, start=f.start, group=group)
             if config.planned_promotions else None)
    pooled = (pooled_scale(f.panel, f.means, start=f.start, interval=f.interval, group=group,
                           weight=config.pooled_weight) if config.pooled_weight > 0 else None)
    promoted = (None if promo is None
                else replace(f, steps=f.steps * promo[..., None], means=f.means * promo))
    planned = dists if promoted is None else [
        promoted.demand_at(i, correlation=config.correlation, lost_sales=config.lost_sales)
        for i in range(f.means.shape[0])]
    own = None if planned is dists and pooled is None and config.ranking_dispersion is None \
        else [channelcast_demand(d, factor=None if pooled is None else pooled[i],
                                 dispersion=config.ranking_dispersion)
              for i, d in enumerate(planned)]
    inputs = PolicyInputs(dists=dists, group=group, pack=pack, priority=priority,
                          sales=np.nan_to_num(f.panel.units, nan=0.0), start=f.start,
                          interval=f.interval, sales_window=config.sales_window,
                          holding_ratio=ratio, allocation=config.allocation,
                          channelcast_dists=own)
    return ReplaySetup(group=group, pack=pack, money=money, demand=demand, first=first,
                       per_sku=per_sku, policy=inputs)


def run_policy_backtest(forecasts: PolicyForecasts, *, nodes: pd.DataFrame,
                        config: PolicyBacktestConfig,
                        pack_sizes: pd.Series | None = None, progress: bool = False
                        ) -> pd.DataFrame:
    """The policy table: one row per scarcity x policy (see `outcome_row` for the columns, and
    `add_headroom`); `progress`: one step per replayed period on stderr."""
    f = forecasts
    setup = replay_setup(f, nodes=nodes, config=config, pack_sizes=pack_sizes)
    rows = []
    runs = len(config.scarcity) * len(config.policies)
    with bar(desc="policy replay", total=runs * setup.demand.shape[1], enabled=progress,
             unit="period") as shown:
        for share in config.scarcity:
            inputs = setup.sim_inputs(share, f.review, f.lead)
            plans: list[FloatArray] = []
            order = sorted(config.policies, key=lambda p: p == "oracle")  # the oracle last
            for policy in order:
                shown.set_postfix_str(f"scarcity {share:g} {policy}", refresh=False)
                began = time.perf_counter()
                if policy == "oracle":
                    decide: Decide = Oracle(inputs, pack=setup.pack, candidates=tuple(plans),
                                            weight=priority_weights(setup.policy.priority,
                                                                    config.allocation))
                else:
                    plans.append(np.zeros_like(setup.demand))
                    decide = recorded(decider(policy, setup.policy), plans[-1])
                outcome = simulate(inputs, decide=decide,
                                   on_period=shown.update if progress else None)
                row = outcome_row(share, policy, outcome, time.perf_counter() - began)
                row |= money_columns(outcome, setup.money, holding_rate=config.holding_rate)
                row["fill_bound"] = (decide.bound / max(outcome.demand, 1e-12)
                                     if isinstance(decide, Oracle) else np.nan)
                row["supply"] = config.supply
                row["supply_cap"] = ((inputs.initial.sum() + inputs.supply.sum())
                                     / max(outcome.demand, 1e-12))
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
    if config.objective not in OBJECTIVES:
        raise ValueError(f"`objective` must be one of {list(OBJECTIVES)}; got "
                         f"{config.objective!r}.")


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
