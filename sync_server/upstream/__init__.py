"""The upload to the provincial 好差评 platform: every counting rating, every 差评工单 step and every appeal outcome,
queued durably, sent signed and idempotent with backoff, a receipt per attempt, reconciled per day."""
