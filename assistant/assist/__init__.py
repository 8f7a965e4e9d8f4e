"""Agent assist: ranked, sourced reply suggestions for human agents, with feedback."""
