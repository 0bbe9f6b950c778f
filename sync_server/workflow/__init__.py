"""The 差评 workflow: handling records (差评工单) for every bad rating, an explicit state machine with roles per
step, working-day deadlines with yellow and red cards, appeals in the order of 篇10 (核实 → the department's
书面报告 of a 恶意差评 or 误操作 → the hall's 复核, by someone other than the reporter) that exclude a rating without
deleting it, evidence files, a signed webhook to an external platform, and the hash-chained audit log."""
