import logging

# aiosmtpd logs every connection at INFO: the test SMTP servers' chatter is not news.
logging.getLogger("mail.log").setLevel(logging.WARNING)
