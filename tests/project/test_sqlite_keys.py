"""The key rules on SQLite, the embedded default (whose LOWER folds ASCII only): keys are
computed in Python and stored, so SQLite agrees with PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.project.test_settings import ROOT

SCRIPT = r"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.db import IntegrityError, transaction
from opportunities import gate
from opportunities.models import Opportunity, Product
from opportunities.stages import Stage
from tests.factories import ready_opportunity, make_user

rep = make_user("rep", "sqlite_rep")
won = ready_opportunity(rep, stage=Stage.CLOSED_WON, contract_id="É-1")
for lookalike in ("é-1", "É\u20101", "É-1\u200b", " é-1 "):
    other = ready_opportunity(rep, contract_id=lookalike)
    codes = [u.code for u in gate.unmet_requirements(other, Stage.CLOSED_WON)]
    assert codes == ["contract_id_in_use"], (lookalike, codes)
invisible = ready_opportunity(rep, contract_id="\u200b\u2060", po_number="")
assert [u.code for u in gate.unmet_requirements(invisible)] == ["contract_or_po_required"]
# the partial unique index holds even without the gate
clash = ready_opportunity(rep, contract_id="é\u20101")
try:
    with transaction.atomic():
        Opportunity.objects.filter(pk=clash.pk).update(stage=Stage.PENDING_APPROVAL)
except IntegrityError:
    print("index holds")
Product.objects.create(sku="CW-Ärger", name="x")
try:
    with transaction.atomic():
        Product.objects.create(sku="cw\u2010ärger", name="y")
except IntegrityError:
    print("sku unique")
print("ok")
"""


def test_lookalike_keys_collide_on_sqlite_too(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY")
    }
    env.update(
        DEBUG="1",
        CLOSEDWON_DATA_DIR=str(tmp_path),
        CLOSEDWON_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="closedwon.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["index", "holds", "sku", "unique", "ok"], result.stdout
