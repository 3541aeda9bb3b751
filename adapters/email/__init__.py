"""Customer and operations emails: rendering, the senders (SES, file, log), templates beside them."""
