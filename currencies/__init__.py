"""Exchange rates and totals across currencies: amounts are never added across currencies;
they are totalled per currency or converted to the reporting currency with the dated
rates RevOps keep."""
