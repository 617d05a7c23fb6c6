"""Fault configuration and the seeded fault injector."""

from __future__ import annotations

import pytest

from controller.marketplace.faults import Fault, FaultConfig, FaultConfigError, FaultInjector


class TestFaultConfig:
    """Rates parse from text and are checked for sense."""

    def test_parse_reads_rates_and_settings(self) -> None:
        config = FaultConfig.parse("error=0.1, throttle=0.2 retry-after=3,seed=9")
        assert (config.error, config.throttle, config.retry_after, config.seed) == (0.1, 0.2, 3, 9)
        assert config.enabled

    def test_empty_text_means_no_faults(self) -> None:
        assert not FaultConfig.parse("").enabled

    @pytest.mark.parametrize(
        "text",
        ["error=2", "error=-0.1", "error=nan", "error=0.6,reset=0.6", "bogus=1", "error", "seed=x"],
    )
    def test_nonsense_is_refused(self, text: str) -> None:
        with pytest.raises(FaultConfigError):
            FaultConfig.parse(text)


class TestFaultInjector:
    """Draws follow the configured rates and repeat for a seed."""

    def test_no_faults_draws_nothing(self) -> None:
        injector = FaultInjector(FaultConfig())
        assert {injector.draw() for _ in range(100)} == {None}

    def test_rates_are_honoured_within_sampling_error(self) -> None:
        config = FaultConfig(error=0.1, timeout=0.05, throttle=0.2, reset=0.05, seed=1)
        injector = FaultInjector(config)
        draws = [injector.draw() for _ in range(20_000)]
        for kind, rate in ((Fault.ERROR, 0.1), (Fault.TIMEOUT, 0.05), (Fault.THROTTLE, 0.2)):
            assert abs(draws.count(kind) / 20_000 - rate) < 0.015
        assert abs(draws.count(None) / 20_000 - 0.6) < 0.02

    def test_the_same_seed_gives_the_same_faults(self) -> None:
        config = FaultConfig(error=0.3, reset=0.3, seed=42)
        one, two = FaultInjector(config), FaultInjector(config)
        assert [one.draw() for _ in range(200)] == [two.draw() for _ in range(200)]

    def test_another_seed_gives_other_faults(self) -> None:
        a = FaultInjector(FaultConfig(error=0.5, seed=1))
        b = FaultInjector(FaultConfig(error=0.5, seed=2))
        assert [a.draw() for _ in range(200)] != [b.draw() for _ in range(200)]
