"""The one exception class for problems a user can cause and fix."""


class UserError(Exception):
  """Bad input: the message names the file and what is wrong with it.

  The command line prints it as one line, `error: <message>`, and exits 1.
  """
