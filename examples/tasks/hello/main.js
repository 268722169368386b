(function (input) {
  const name = input.name || "World";
  console.log("greeting", name);
  return { greeting: "Hello, " + name + "!" };
})
