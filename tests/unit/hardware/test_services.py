"""Required services of a generation profile: schema, simulated boxes, real hosts via ``service``."""

from salt_ext.utils.hardware import profiles, services
from tests.unit.hardware.lab import SIMULATED, simulate_spec


def _report():
    return {"passed": True, "checks": [], "failed": [], "summary": "3 of 3 checks ok"}


PROFILE = {"services": {"lldpd": {}, "chrony": {"enabled": False}}}


def test_schema_accepts_services_and_names_bad_ones():
    base = {"device_types": ["x"], "match": {"vendor": "^Dell"}}
    assert profiles.check_profile("gen10", {**base, **PROFILE}) == []
    errors = profiles.check_profile(
        "gen10",
        {
            **base,
            "services": {
                "lldpd.service": {},
                "chrony": {"running": "yes"},
                "ntp": {"running": False, "enabled": False},
                "ssh": {"started": True},
            },
        },
    )
    text = "\n".join(errors)
    assert "services:lldpd.service: is not a service name" in text
    assert "services:chrony:running: must be true or false (got 'yes')" in text
    assert "services:ntp: requires neither running nor enabled" in text
    assert "services:ssh: unknown key(s) ['started']" in text
    assert profiles.check_profile("gen10", {**base, "services": ["lldpd"]}) == [
        "hwgen_profiles:gen10:services: must be a mapping of service name -> "
        "{running: bool, enabled: bool}"
    ]


def test_shipped_profiles_require_services():
    import yaml  # noqa: PLC0415

    from tests.support.saltenv import PILLAR_ROOT  # noqa: PLC0415

    for gen in ("gen10", "gen11", "gen12"):
        prof = yaml.safe_load((PILLAR_ROOT / "hwgen" / f"{gen}.sls").read_text())["hwgen_profiles"]
        assert profiles.check_profile(gen, prof[gen]) == []
        assert "lldpd" in services.required(prof[gen])


def test_simulated_box_reads_its_directory_and_overrides_never_the_host():
    spec = simulate_spec("srv-r1-01")
    seen = services.simulated(spec)
    assert seen["lldpd"] == {"available": True, "running": True, "enabled": True}
    spec["overrides"] = {**spec.get("overrides", {}), "services": {"lldpd": {"running": False}}}
    seen = services.simulated(spec)
    assert seen["lldpd"] == {"available": True, "running": False, "enabled": True}
    report = services.add_checks(_report(), PROFILE, spec, salt={})  # no service module used
    assert report["passed"] is False and report["failed"] == ["services.lldpd"]
    check = {c["name"]: c for c in report["checks"]}["services.lldpd"]
    assert check["comment"].startswith("required service lldpd is not running (simulated box)")
    assert "down: lldpd" in report["summary"]


def test_simulated_box_without_the_service_has_it_not_installed(tmp_path):
    report = services.add_checks(
        _report(), {"services": {"rasdaemon": {}}}, str(SIMULATED / "srv-r1-02"), {}
    )
    assert report["checks"][0]["actual"] == "not installed"
    assert report["passed"] is False


def test_real_host_asks_the_service_module():
    calls = []

    def fake(kind, answer):
        def call(name):
            calls.append((kind, name))
            return answer(name)

        return call

    salt = {
        "service.available": fake("available", lambda n: n != "gone"),
        "service.status": fake("status", lambda n: n == "lldpd"),
        "service.enabled": fake("enabled", lambda n: True),
    }
    prof = {"services": {"lldpd": {}, "chrony": {"enabled": False}, "gone": {}}}
    report = services.add_checks(_report(), prof, None, salt)
    by = {c["name"]: c for c in report["checks"]}
    assert by["services.lldpd"]["ok"] is True
    assert by["services.chrony"]["ok"] is False
    assert "chrony is not running (service manager)" in by["services.chrony"]["comment"]
    assert by["services.gone"]["actual"] == "not installed"
    assert ("status", "gone") not in calls
    assert sorted(report["failed"]) == ["services.chrony", "services.gone"]


def test_required_defaults_to_running_and_enabled():
    assert services.required({"services": {"lldpd": None, "x": {"enabled": False}}}) == {
        "lldpd": {"running": True, "enabled": True},
        "x": {"running": True, "enabled": False},
    }
