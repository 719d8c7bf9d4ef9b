"""The key rules on SQLite, the embedded default (whose LOWER folds ASCII only): keys are
computed in Python and stored, so SQLite agrees with PostgreSQL."""

from __future__ import annotations

from tests.project.sqlite import run_on_sqlite

SCRIPT = r"""
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
    stdout = run_on_sqlite(SCRIPT, tmp_path)
    assert stdout.split() == ["index", "holds", "sku", "unique", "ok"], stdout
