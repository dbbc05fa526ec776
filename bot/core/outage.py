"""The bot's records out of reach: raised by the database layer, understood by the transport
and the outbox, which leave what they were doing unrecorded and try again later."""


class RecordsUnavailable(Exception):
    """The bot's records (its database) cannot be read or written for now; nothing of the
    unit of work that raised it was recorded."""
