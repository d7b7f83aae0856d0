"""Physics: the optics engines, the independent reference integral, the wavelength plan."""
