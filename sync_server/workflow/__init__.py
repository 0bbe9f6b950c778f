"""The 差评 workflow: handling records (差评工单) for every bad rating, an explicit state machine with roles per
step, working-day deadlines with yellow and red cards, four-eyes appeals (申诉/复核) that exclude a rating without
deleting it, evidence files, a signed webhook to an external platform, and the hash-chained audit log."""
