// Worm-era hosts simulators: see helper.
