"""The behaviour behind the raw data: who signs up, buys, lapses, answers surveys.

Everything is vectorised with numpy over one chunk of customers at a time, so
memory stays bounded at any size. A chunk's random stream depends only on
``(seed, chunk number)``, which makes the output identical run after run.

The simulation works in UTC epoch seconds and integer codes; ``writer`` turns
the codes into the text the raw landing contract describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from retention_warehouse.generate.fx import CHF_FIRST_RATE, CURRENCIES, FX_START, fx_table

DAY = 86_400
MONTH_DAYS = 30.44

COUNTRIES = ("US", "CA", "GB", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "CH", "AU")
COUNTRY_WEIGHTS = np.array([28, 5, 14, 13, 9, 5, 6, 6, 4, 4, 3, 3], dtype=float)
COUNTRY_CURRENCY = ("USD", "CAD", "GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "SEK", "PLN", "CHF",
                    "AUD")
COUNTRY_LANGUAGE = ("en", "en", "en", "de", "fr", "nl", "es", "it", "sv", "pl", "de", "en")
COUNTRY_PHONE = ("1", "1", "44", "49", "33", "31", "34", "39", "46", "48", "41", "61")
# Standard-time UTC offsets in minutes (the exports carry the store's offset).
COUNTRY_OFFSET_MIN = np.array([-300, -300, 0, 60, 60, 60, 60, 60, 60, 60, 60, 600])
# Purchase-rate multipliers by country.
COUNTRY_RATE = np.array([1.0, 0.9, 1.05, 1.1, 0.95, 1.0, 0.85, 0.85, 1.1, 0.8, 1.15, 0.9])
CH = COUNTRIES.index("CH")
DE = COUNTRIES.index("DE")

CHANNELS = ("paid_search", "social", "email", "organic", "referral", "partner", "store")
CHANNEL_WEIGHTS = np.array([25, 18, 8, 22, 10, 7, 10], dtype=float)
# Share drift over the period (social grows, paid search shrinks).
CHANNEL_TREND = np.array([-0.4, 0.8, 0.0, 0.0, 0.5, -0.2, -0.3])
CHANNEL_RATE = np.array([0.85, 0.75, 1.1, 1.0, 1.2, 0.9, 1.0])
# Acquisition cost per new customer in US dollars (referral: the reward paid).
CHANNEL_CAC_USD = np.array([45.0, 38.0, 12.0, 0.0, 15.0, 30.0, 20.0])
REFERRAL = CHANNELS.index("referral")
STORE = CHANNELS.index("store")

# Month-of-year weights for acquisition and purchases (January .. December).
SEASONALITY = np.array([1.1, 0.85, 0.9, 0.95, 1.0, 0.9, 0.85, 0.9, 1.0, 1.05, 1.35, 1.45])

SURVEY_TYPES = ("nps", "csat", "ces", "exit")
EVENT_TYPES = ("closure", "erasure_request")
# Exit reasons and their shares: indifferent service first, then product, price,
# a better supplier, no reason (the mix retention studies keep finding).
EXIT_REASONS = ("rude_staff", "ignored_complaint", "slow_support", "poor_quality",
                "narrow_range", "too_expensive", "found_cheaper", "switched_supplier",
                "no_reason", "other")
EXIT_REASON_WEIGHTS = np.array([12, 11, 11, 13, 9, 10, 7, 12, 10, 5], dtype=float)

FIRST_NAMES = ("Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas",
               "Klara", "Liam", "Maja", "Noah", "Olivia", "Pawel", "Queenie", "Ravi", "Sofia",
               "Tom", "Ulla", "Victor", "Wiktoria", "Xavier", "Yara", "Zoe", "Lucas", "Mia",
               "Oskar", "Elin")
LAST_NAMES = ("Smith", "Muller", "Martin", "Rossi", "Garcia", "Jansen", "Nowak", "Andersson",
              "Brown", "Dubois", "Schmidt", "Bianchi", "Lopez", "de Vries", "Kowalski",
              "Johansson", "Taylor", "Moreau", "Weber", "Ricci")
DOMAINS = ("mail.com", "post.net", "inbox.org", "web.de", "correo.es", "posta.it")
COMMENTS = ("Great service, thanks!", "Delivery was late again.", "Love the new range",
            "Too expensive for what it is", "Staff were very helpful", "App keeps crashing",
            "Nothing to add", "Support never answered my email", "Good value, fast shipping",
            "Product broke after a week")


@dataclass(frozen=True)
class Period:
    """The simulated period, as epoch seconds, and its calendar months."""

    start: int
    end: int
    months: np.ndarray  # epoch seconds of each month start, plus the end

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        """The period from ``start`` to the end of ``end`` (both UTC dates)."""
        bounds = []
        year, month = start.year, start.month
        while date(year, month, 1) <= end:
            bounds.append(epoch(date(year, month, 1)))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        end_s = epoch(end) + DAY - 1
        return cls(start=epoch(start), end=end_s, months=np.array([*bounds, end_s + 1]))


def epoch(day: date) -> int:
    """Epoch seconds of a UTC midnight."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def month_of_year(seconds: np.ndarray) -> np.ndarray:
    """Calendar month 0..11 of epoch seconds."""
    return seconds.astype("datetime64[s]").astype("datetime64[M]").astype(int) % 12


class FxRates:
    """USD per unit by currency code index and UTC day (NaN where not quoted)."""

    def __init__(self) -> None:
        table = fx_table()
        self.rates = np.vstack([table[c] for c in CURRENCIES])
        self.first_day = epoch(FX_START) // DAY

    def usd_per_unit(self, currency: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """The day's rate for each (currency, timestamp) pair."""
        day = seconds // DAY - self.first_day
        return self.rates[currency, np.clip(day, 0, self.rates.shape[1] - 1)]

    def monthly_mean(self, currency: int, month_start: int, next_month: int) -> float:
        """Mean rate of a currency over a month (what staging converts spend with)."""
        a = month_start // DAY - self.first_day
        b = next_month // DAY - self.first_day
        return float(np.nanmean(self.rates[currency, a:b]))


CURRENCY_OF_COUNTRY = np.array([CURRENCIES.index(c) for c in COUNTRY_CURRENCY])


def acquisition_cdf(period: Period, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of sign-ups by month: growth times seasonality."""
    starts = period.months[:-1]
    lengths = np.diff(period.months).astype(float)
    growth = np.linspace(1.0, 1.8, len(starts))
    weights = growth * SEASONALITY[month_of_year(starts)] * lengths
    cdf = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return cdf, lengths


def signup_times(period: Period, index: np.ndarray, total: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Stratified sign-up times: customer ``i`` signs up at quantile (i + u) / total.

    Customer numbers therefore increase with sign-up time, across chunks.
    """
    cdf, lengths = acquisition_cdf(period, total)
    q = (index + rng.random(len(index))) / total
    month = np.clip(np.searchsorted(cdf, q, side="right") - 1, 0, len(lengths) - 1)
    within = (q - cdf[month]) / (cdf[month + 1] - cdf[month])
    return (period.months[month] + within * lengths[month]).astype(np.int64)


@dataclass
class Customers:
    """One chunk of simulated customers (arrays of equal length)."""

    number: np.ndarray        # 1-based customer number (id C%08d)
    signup: np.ndarray        # epoch seconds
    country: np.ndarray       # index into COUNTRIES
    channel: np.ndarray       # index into CHANNELS
    referrer: np.ndarray      # customer number or 0
    satisfaction: np.ndarray  # latent, standard normal
    rate: np.ndarray          # orders per month at tenure 0
    basket_usd: np.ndarray    # typical order value
    first_name: np.ndarray
    last_name: np.ndarray
    domain: np.ndarray
    is_test: np.ndarray
    consent: np.ndarray


def simulate_customers(period: Period, numbers: np.ndarray, total: int, test_rate: float,
                       rng: np.random.Generator) -> Customers:
    """Draw the chunk's customers: when, where, through which channel, how keen."""
    n = len(numbers)
    signup = signup_times(period, numbers - 1, total, rng)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
    too_early_for_ch = (country == CH) & (signup < epoch(CHF_FIRST_RATE) + DAY)
    country[too_early_for_ch] = DE
    progress = (signup - period.start) / max(period.end - period.start, 1)
    channel_w = CHANNEL_WEIGHTS[None, :] * (1 + CHANNEL_TREND[None, :] * (progress[:, None] - .5))
    cum = np.cumsum(channel_w / channel_w.sum(axis=1, keepdims=True), axis=1)
    channel = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), len(CHANNELS) - 1)
    referrer = np.where((channel == REFERRAL) & (numbers > 1),
                        1 + np.floor(rng.random(n) * (numbers - 1)).astype(np.int64), 0)
    channel[(channel == REFERRAL) & (referrer == 0)] = CHANNELS.index("organic")
    satisfaction = rng.standard_normal(n)
    rate = (2.6 * rng.lognormal(0.0, 0.55, n) * CHANNEL_RATE[channel] * COUNTRY_RATE[country]
            * np.exp(0.15 * satisfaction))
    return Customers(
        number=numbers,
        signup=signup,
        country=country,
        channel=channel,
        referrer=referrer,
        satisfaction=satisfaction,
        rate=rate,
        basket_usd=rng.lognormal(np.log(55.0), 0.45, n),
        first_name=rng.integers(0, len(FIRST_NAMES), n),
        last_name=rng.integers(0, len(LAST_NAMES), n),
        domain=rng.integers(0, len(DOMAINS), n),
        is_test=rng.random(n) < test_rate,
        consent=rng.random(n) < 0.62,
    )


@dataclass
class Orders:
    """Simulated sales of one chunk, sorted by customer then time."""

    customer: np.ndarray  # position in the chunk
    at: np.ndarray        # epoch seconds


def _spell_times(rng: np.random.Generator, starts: np.ndarray, lengths: np.ndarray,
                 rate: np.ndarray, decay_months: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Purchase times in one spell per customer: Poisson with a decaying rate."""
    months = lengths / (MONTH_DAYS * DAY)
    if decay_months is None:
        expected = rate * months
    else:
        expected = rate * decay_months * (1 - np.exp(-months / decay_months))
    counts = rng.poisson(np.maximum(expected, 0))
    owner = np.repeat(np.arange(len(starts)), counts)
    v = rng.random(len(owner))
    if decay_months is None:
        offset_months = v * months[owner]
    else:
        cap = 1 - np.exp(-months[owner] / decay_months)
        offset_months = -decay_months * np.log1p(-v * cap)
    return owner, starts[owner] + (offset_months * MONTH_DAYS * DAY).astype(np.int64)


def simulate_orders(period: Period, customers: Customers,
                    rng: np.random.Generator) -> tuple[Orders, np.ndarray]:
    """Sales over each customer's active spells; returns orders and lifetime end times.

    A customer is active for an exponential lifetime (shorter for the
    dissatisfied), buys at a rate that decays with tenure, and one in five of
    those who lapse comes back after more than six months for a second spell.
    Purchases are thinned by month-of-year seasonality.
    """
    n = len(customers.number)
    life = rng.exponential(20.0 * np.exp(0.45 * customers.satisfaction)) * MONTH_DAYS * DAY
    life = np.maximum(life, DAY).astype(np.int64)
    first_order = customers.signup + (rng.exponential(6.0, n) * DAY).astype(np.int64)
    spell1_len = np.clip(np.minimum(life, period.end - first_order), 0, None)
    owner1, at1 = _spell_times(rng, first_order, spell1_len, customers.rate, 24.0)
    # Everybody who signs up buys once (at first_order) if it falls in the period.
    first_in = first_order <= period.end
    owner0 = np.flatnonzero(first_in)
    at0 = first_order[first_in]
    comeback = rng.random(n) < 0.2
    gap = (rng.uniform(7.0, 16.0, n) * MONTH_DAYS * DAY).astype(np.int64)
    spell2_start = first_order + life + gap
    spell2_len = np.where(comeback, (rng.exponential(6.0, n) * MONTH_DAYS * DAY), 0)
    spell2_len = np.clip(np.minimum(spell2_len, period.end - spell2_start), 0, None)
    owner2, at2 = _spell_times(rng, spell2_start, spell2_len.astype(np.int64),
                               customers.rate * 0.6, None)
    owner = np.concatenate([owner0, owner1, owner2])
    at = np.concatenate([at0, at1, at2])
    keep = (at <= period.end) & (at >= customers.signup[owner])
    season = SEASONALITY[month_of_year(at)] / SEASONALITY.max()
    keep &= (rng.random(len(at)) < season) | (np.concatenate(
        [np.ones(len(owner0), bool), np.zeros(len(at) - len(owner0), bool)]))
    owner, at = owner[keep], at[keep]
    order = np.lexsort((at, owner))
    return Orders(customer=owner[order], at=at[order]), first_order + life


def convert_usd(fx: FxRates, usd: np.ndarray, currency: np.ndarray,
                at: np.ndarray) -> np.ndarray:
    """Local-currency cents of US-dollar amounts at the day's rate."""
    rate = fx.usd_per_unit(currency, at)
    rate = np.where(np.isnan(rate), 1.0, rate)
    return np.maximum(np.round(usd / rate * 100), 1).astype(np.int64)
