//! SOAP 1.1/1.2 envelopes for CineFlix: parsing, rendering, faults and the WSDL.
