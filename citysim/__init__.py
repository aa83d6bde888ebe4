"""citysim: a stand-in for the 109 units' systems of Pudong.

It writes the files each system would export into a landing folder, in the system's own format,
naming and cadence, with the real-world dirt such exports carry; and, apart, the ground truth
(planted group rentals, cloned plates, incidents, injected dirt) that only evaluation code reads.

The product never imports this package: it must work the same on real exports.
"""
