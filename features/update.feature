Feature: Update the shared state
  As a client holding the API key
  I want to set the counter, the message or both
  So that every client sees the new state, and a bad request changes nothing

  Background:
    Given the service is running

  Scenario: Setting the counter keeps the message
    Given the state is counter 1 and message "before"
    When the client sets the counter to 5
    Then the answer is 200
    And the answer is JSON
    And the answer shows the new state: counter 5 and message "before"
    And the answer shows the previous state: counter 1 and message "before"
    And the status shows counter 5 and message "before"
    And the log's newest entry is the update as answered
    And the update was logged once

  Scenario: Setting the message keeps the counter
    Given the state is counter 9 and message "old"
    When the client sets the message to "new"
    Then the answer is 200
    And the answer shows the new state: counter 9 and message "new"
    And the answer shows the previous state: counter 9 and message "old"
    And the status shows counter 9 and message "new"
    And the log's newest entry is the update as answered
    And the update was logged once

  Scenario: Setting both at once
    Given the state is counter 0 and message "zero"
    When the client sets the counter to -3 and the message to "both"
    Then the answer is 200
    And the answer shows the new state: counter -3 and message "both"
    And the answer shows the previous state: counter 0 and message "zero"
    And the status shows counter -3 and message "both"
    And the log's newest entry is the update as answered
    And the update was logged once

  Scenario Outline: Every kind of valid value is accepted and shown exactly as it was set
    Given the state is counter 1 and message "edge"
    When the client sends the update <body>
    Then the answer is 200
    And the answer shows the new state: counter <counter> and message <message>
    And the answer shows the previous state: counter 1 and message "edge"
    And the status shows counter <counter> and message <message>
    And the log's newest entry is the update as answered
    And the update was logged once

    Examples: Counters at the ends of the signed 64-bit range
      | body                                              | counter              | message                    |
      | {"counter": 9223372036854775807}                  | 9223372036854775807  | "edge"                     |
      | {"counter": -9223372036854775808}                 | -9223372036854775808 | "edge"                     |

    Examples: A null message leaves the message as it is
      | body                                              | counter              | message                    |
      | {"counter": 0, "message": null}                   | 0                    | "edge"                     |

    Examples: A whole number written with a fraction, an integer in JSON Schema
      | body                                              | counter              | message                    |
      | {"counter": 2.0}                                  | 2                    | "edge"                     |
      | {"counter": -2122.0}                              | -2122                | "edge"                     |

    Examples: Messages that are unusual but valid
      | body                                              | counter              | message                    |
      | {"message": ""}                                   | 1                    | ""                         |
      | {"message": "héllo ☃ 🎉 \u00e9"}                  | 1                    | "héllo ☃ 🎉 é"              |
      | {"message": "line one\\nline two"}                | 1                    | "line one\nline two"        |

    Examples: Whitespace around a message is part of it
      | body                                              | counter              | message                    |
      | {"message": "  two spaces each side  "}           | 1                    | "  two spaces each side  " |
      | {"message": " "}                                  | 1                    | " "                        |
      | {"message": "\\n  an indented line\\n"}           | 1                    | "\n  an indented line\n"   |

    Examples: Markup and quotes are text, kept as they were sent
      | body                                              | counter              | message                    |
      | {"message": "<b>&</b>"}                           | 1                    | "<b>&</b>"                 |
      | {"message": "&lt;b&gt; &amp; <script>x</script>"} | 1                    | "&lt;b&gt; &amp; <script>x</script>" |
      | {"message": "a \"quoted\" word"}                  | 1                    | "a "quoted" word"          |

  Scenario: A message exactly as long as the limit is accepted whole
    Given the state is counter 0 and message "limit"
    When the client sends a message exactly as long as the limit
    Then the answer is 200
    And the answer shows the message as it was sent, every character of it
    And the status shows the state the update answered
    And the log's newest entry is the update as answered
    And the update was logged once

  Scenario Outline: Invalid updates are refused with 400 and change nothing
    Given the state is counter 7 and message "steady"
    When the client sends the update <body>
    Then the answer is 400
    And the answer is JSON
    And the error says why
    And the error names "<field>"
    And the error does not repeat what was sent
    And nothing changed

    Examples: Nothing to set
      | body                                  | field   |
      | {}                                    | body    |
      | {"counter": null, "message": null}    | body    |

    Examples: A counter that is not a whole number, written as text, a fraction or true
      | body                                  | field   |
      | {"counter": "5"}                      | counter |
      | {"counter": 1.5}                      | counter |
      | {"counter": true}                     | counter |

    Examples: A counter outside the signed 64-bit range
      | body                                  | field   |
      | {"counter": 9223372036854775808}      | counter |

    Examples: A message that is not text
      | body                                  | field   |
      | {"message": 5}                        | message |
      | {"message": ["not", "text"]}          | message |

    Examples: A field the service does not know
      | body                                  | field   |
      | {"counter": 1, "colour": "crimson"}   | colour  |

    Examples: A body that is not a JSON object
      | body                                  | field   |
      | [1, 2]                                | body    |

    Examples: A body that is not JSON at all
      | body                                  | field   |
      | {"counter": 5                         | body    |

  Scenario: A message longer than the limit is refused
    Given the state is counter 7 and message "steady"
    When the client sends a message one character longer than the limit
    Then the answer is 400
    And the error names "message"
    And the error does not repeat what was sent
    And nothing changed

  Scenario: Every offending field is named
    Given the state is counter 7 and message "steady"
    When the client sends the update {"counter": "five", "message": 5}
    Then the answer is 400
    And the error names "counter"
    And the error names "message"
    And nothing changed

  Scenario: A body larger than the size limit is refused
    Given the state is counter 7 and message "steady"
    When the client sends an update body larger than 16 KiB
    Then the answer is 400
    And the error names "body"
    And the error does not repeat what was sent
    And nothing changed

  Scenario: An update that does not say it is JSON is refused, even if it is
    Given the state is counter 7 and message "steady"
    When the client sends {"counter": 8} as an update, without saying it is JSON
    Then the answer is 400
    And the error names "content-type"
    And nothing changed
