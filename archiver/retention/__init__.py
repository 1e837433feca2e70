"""Records management: retention schedules, disposition, legal holds, fixity and time-stamps."""
