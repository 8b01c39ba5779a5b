// node `soap` (npm) against the live CineFlix service: a client built from the LIVE WSDL calls every operation on
// the SOAP 1.1 port and reads a server fault. Run by tests/system/test_node_soap.py; exit status 0 only if every
// check passed.
//
// Not a booking-rules suite (test_zeep.py and the booking crate are): the point is that node soap's requests are
// understood and its parser reads every answer shape.
//
// Usage: node cineflix_soap_test.js <wsdl url> <tomorrow as DDMMYY>

'use strict';

const assert = require('node:assert/strict');
const soap = require('soap');

async function main() {
  const [wsdlUrl, tomorrow] = process.argv.slice(2);
  if (!wsdlUrl || !tomorrow) {
    console.error('usage: node cineflix_soap_test.js <wsdl url> <tomorrow DDMMYY>');
    process.exit(2);
  }
  const client = await soap.createClientAsync(wsdlUrl);
  // Force the SOAP 1.1 port; node soap otherwise picks the first port it finds.
  const port = client.CineflixService.CineflixSoap11;
  const call = async (operation, args) => {
    const [answer] = await new Promise((resolve, reject) =>
      port[operation](args, (error, result, raw) => (error ? reject(error) : resolve([result, raw]))));
    return answer;
  };
  const expectResult = (answer, code, what) => {
    assert.equal(answer.result.code, code, `${what}: ${JSON.stringify(answer.result)}`);
    assert.equal(answer.result.success, code === 'OK', `${what}: success`);
    assert.ok(answer.result.message.trim().length > 0, `${what}: message`);
  };
  // node soap gives an absent repeated element as undefined, one as an object, several as an array.
  const list = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

  const admin = 'OUTA0001';
  const customer = 'OUTC0031';
  const morning = `OUTM${tomorrow}`;
  const afternoon = `OUTA${tomorrow}`;
  const movie = 'Avengers';

  expectResult(await call('addMovieSlots', { userID: admin, movieID: morning, movieName: movie, bookingCapacity: 4 }),
    'OK', 'add morning');
  expectResult(await call('addMovieSlots', { userID: admin, movieID: afternoon, movieName: movie, bookingCapacity: 2 }),
    'OK', 'add afternoon');
  expectResult(await call('addMovieSlots', { userID: admin, movieID: afternoon, movieName: movie, bookingCapacity: 0 }),
    'INVALID_QUANTITY', 'add with zero capacity');

  const listing = await call('listMovieShowsAvailability', { userID: customer, movieName: movie });
  expectResult(listing, 'OK', 'list');
  assert.deepEqual(list(listing.show).map((s) => [s.movieID, s.theatre, s.slot, Number(s.capacity), Number(s.available)]),
    [[morning, 'OUT', 'MORNING', 4, 4], [afternoon, 'OUT', 'AFTERNOON', 2, 2]], 'listing');

  const ticket = { userID: customer, customerID: customer, movieName: movie };
  expectResult(await call('bookMovieTickets', { ...ticket, movieID: morning, numberOfTickets: 3 }), 'OK', 'book');
  expectResult(await call('bookMovieTickets', { ...ticket, movieID: morning, numberOfTickets: 2 }), 'SOLD_OUT',
    'book too many');
  expectResult(await call('exchangeTickets', { ...ticket, movieID: morning, newMovieID: afternoon,
    newMovieName: movie, numberOfTickets: 1 }), 'OK', 'exchange');
  expectResult(await call('cancelMovieTickets', { ...ticket, movieID: afternoon, numberOfTickets: 1 }), 'OK',
    'cancel');
  expectResult(await call('cancelMovieTickets', { ...ticket, movieID: afternoon, numberOfTickets: 1 }), 'NO_BOOKING',
    'cancel again');

  const schedule = await call('getBookingSchedule', { userID: admin, customerID: customer });
  expectResult(schedule, 'OK', 'schedule');
  assert.deepEqual(list(schedule.booking).map((b) => [b.movieID, b.movieName, Number(b.tickets)]),
    [[morning, movie, 2]], 'schedule entries');

  const removal = await call('removeMovieSlots', { userID: admin, movieID: morning, movieName: movie });
  expectResult(removal, 'OK', 'remove');
  assert.deepEqual(list(removal.movedBooking).map((m) => [m.customerID, Number(m.tickets), m.newMovieID, m.cancelled]),
    [[customer, 2, afternoon, false]], 'moved bookings');

  // A fault: node soap rejects with an error carrying the parsed Fault (HTTP 500 for SOAP 1.1).
  let fault = null;
  try {
    await call('bookMovieTickets', { ...ticket, movieID: morning, numberOfTickets: 'two' });
  } catch (error) {
    fault = error;
  }
  assert.ok(fault, 'a mistyped numberOfTickets gave no fault');
  assert.equal(fault.response && fault.response.status, 500, 'fault HTTP status');
  const body = fault.root && fault.root.Envelope && fault.root.Envelope.Body;
  assert.ok(body && body.Fault, `fault not parsed: ${fault}`);
  assert.equal(String(body.Fault.faultcode).split(':').pop(), 'Client', 'faultcode');
  assert.equal(body.Fault.detail.ServiceError.code, 'INVALID_VALUE', 'ServiceError code');

  console.log('PASS node soap: every operation and a fault');
}

main().catch((error) => {
  console.log(`FAIL ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
