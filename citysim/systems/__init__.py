"""One generator per unit system. Each plays its system for a day and yields `Batch`es."""
